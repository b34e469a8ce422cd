"""Quality flags on the scripted week: each conversation gets exactly the flags its script
earns (tests/analytics/script.py), and nothing else."""

from __future__ import annotations

import pytest

from analytics.episodes import episodes
from analytics.quality import Flag, QualityConfig, flags_of
from tests.analytics.script import PSEUDONYMS, WEEK_END, Conversation, at, the_week

BY_NAME = {c.conversation_id: c for c in the_week()}


@pytest.mark.parametrize(("conversation_id", "expected"), [
    ("web:a1", set()),
    ("sms:+15550000002", {Flag.SENTIMENT_DROP}),                       # 0.2 -> -0.6
    ("telegram:303", {Flag.FALLBACK_LOOP, Flag.REPEATED}),             # "asdf qwerty" twice
    ("web:a2", set()),
    ("slack:U5", {Flag.WRONG_ANSWER_HANDOFF, Flag.SLOW_AGENT, Flag.UNRATED_RESOLUTION}),
    ("web:f6", set()),
    ("web:h8", {Flag.UNANSWERED}),
])
def test_each_scripted_conversation_gets_its_flags(conversation_id: str,
                                                   expected: set[Flag]) -> None:
    (episode,) = episodes(BY_NAME[conversation_id].records(), now=WEEK_END)
    assert set(flags_of(episode)) == expected


def test_a_flag_says_why() -> None:
    (episode,) = episodes(BY_NAME["slack:U5"].records(), now=WEEK_END)
    reasons = flags_of(episode)
    assert reasons[Flag.SLOW_AGENT] == "first agent reply after 600 s"
    assert reasons[Flag.WRONG_ANSWER_HANDOFF] == \
        "asked for a person right after the answer about shipping_cost"


def test_an_agent_marking_the_answer_wrong_flags_the_handoff() -> None:
    conversation = (Conversation("web:r1", "web", "web:r1")
                    .user(at(0, 9), "my parcel is damaged", "order_status").bot(at(0, 9, 0, 1))
                    .user(at(0, 9, 1), "agent", "human_handoff")
                    .gateway(at(0, 9, 1, 1), "opened", case_id="C-9", trigger="customer_request")
                    .gateway(at(0, 9, 2), "agent_message", case_id="C-9", text="hello")
                    .gateway(at(0, 9, 3), "relabelled", case_id="C-9", intent="complaint",
                             text="my parcel is damaged", wrong_answer=True))
    (episode,) = episodes(conversation.records(), now=WEEK_END)
    assert flags_of(episode)[Flag.WRONG_ANSWER_HANDOFF] == "an agent marked the bot's answer wrong"


@pytest.mark.parametrize(("slow_agent_s", "flagged"), [(599.0, True), (600.0, False)])
def test_the_slow_reply_threshold_is_configurable(slow_agent_s: float, flagged: bool) -> None:
    (episode,) = episodes(BY_NAME["slack:U5"].records(), now=WEEK_END)
    config = QualityConfig(slow_agent_s=slow_agent_s)
    assert (Flag.SLOW_AGENT in flags_of(episode, config)) is flagged


def test_pseudonyms_hide_the_phone_number() -> None:
    (episode,) = episodes(BY_NAME["sms:+15550000002"].records(), now=WEEK_END)
    assert "5550000002" not in episode.conversation
    assert episode.conversation == PSEUDONYMS.of("sms:+15550000002")


@pytest.mark.parametrize(("minutes_after", "flagged"), [(10, False), (61, True)])
def test_an_unrated_case_is_flagged_once_the_customer_had_time_to_answer(
        minutes_after: int, flagged: bool) -> None:
    (episode,) = episodes(BY_NAME["slack:U5"].records(), now=WEEK_END)
    now = at(2, 12, 20) + minutes_after * 60  # C-3 was resolved at 12:20
    assert (Flag.UNRATED_RESOLUTION in flags_of(episode, now=now)) is flagged


def test_only_the_resolved_case_counts_as_unrated() -> None:
    conversation = (Conversation("web:two", "web", "web:two")
                    .user(at(0, 9), "agent", "human_handoff")
                    .gateway(at(0, 9, 0, 1), "opened", case_id="C-A", trigger="customer_request")
                    .gateway(at(0, 9, 1), "returned", case_id="C-A")
                    .user(at(0, 9, 5), "agent again", "human_handoff")
                    .gateway(at(0, 9, 5, 1), "opened", case_id="C-B", trigger="customer_request")
                    .gateway(at(0, 9, 6), "agent_message", case_id="C-B", text="hi")
                    .gateway(at(0, 9, 9), "resolved", case_id="C-B")
                    .gateway(at(0, 9, 10), "rated", case_id="C-B", rating=5))
    (episode,) = episodes(conversation.records(), now=WEEK_END)
    assert Flag.UNRATED_RESOLUTION not in flags_of(episode)
