"""Free text never injects an intent: whatever a customer types, the text the gateway hands Rasa
is not one Rasa's own parser (YAMLStoryReader.unpack_regex_message, used by the REST channel's
message processing and by RegexMessageHandler) unpacks into an intent or entities."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_input import RasaText, neutralise

ROOT = Path(__file__).resolve().parents[2]
# Everything Python's str.strip() removes, which is what Rasa strips before looking for "/".
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
INTENTS = ["goodbye", "restart", "human_handoff", "order_status", "faq", "affirm",
           'order_status{"order_id": "482913"}', "greet@0.9", "session_start"]


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def unpacked(text: str) -> Message:
    return YAMLStoryReader.unpack_regex_message(Message({TEXT: text}), domain())


def injections() -> st.SearchStrategy[str]:
    """Text shaped like an injection: layers of slashes and whitespace before a real intent."""
    layer = st.text(alphabet=WHITESPACE + "/", max_size=8)
    return st.builds(lambda a, b, intent, rest: a + "/" + b + intent + rest,
                     layer, layer, st.sampled_from(INTENTS), st.text(max_size=30))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.one_of(st.text(), injections()))
@example("/ /goodbye")
@example('/ /order_status{"order_id":"482913"}')
@example("/\u2003/goodbye")
@example("//restart")
@example(" \x1c/restart")
def test_free_text_never_unpacks_to_an_intent(text: str) -> None:
    message = unpacked(RasaText.free_text(text).text)
    assert message.get(INTENT) is None
    assert not message.get(ENTITIES)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.one_of(st.text(), injections()))
def test_what_is_not_an_injection_keeps_its_words(text: str) -> None:
    # Only the leading slashes and the outer whitespace go: the rest of the message is kept.
    assert neutralise(text) in text


def test_the_property_checks_what_rasa_would_really_unpack() -> None:
    # Without the neutralisation these are intents: the test above would fail without it.
    assert unpacked("/ /goodbye".lstrip("/").strip()).get(INTENT)["name"] == "goodbye"
    assert unpacked('/order_status{"order_id":"482913"}').get(ENTITIES)[0]["value"] == "482913"


def test_an_offered_payload_still_reaches_rasa_as_a_payload() -> None:
    assert unpacked(RasaText.offered_payload("/order_status").text).get(INTENT)["name"] == \
        "order_status"
