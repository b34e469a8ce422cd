"""`make review` on scripted conversations: what a trainer should look at lands in
data/review/candidates.yml as Rasa NLU YAML, de-duplicated and redacted, and a trainer's
decisions (copy into data/ = accepted, delete the line = rejected) are remembered."""

from __future__ import annotations

from pathlib import Path

from analytics.review import UNSURE, Decisions, Reason, candidates, run, text_key
from tests.analytics.script import WEEK_END, Conversation, at, records_of, the_week


def week_candidates() -> dict[str, tuple[str, Reason]]:
    return {c.text: (c.intent, c.reason) for c in candidates(records_of(the_week()), now=WEEK_END)}


def test_fallbacks_and_messages_before_a_person_are_proposed() -> None:
    found = week_candidates()
    assert found["you are useless"] == (UNSURE, Reason.FALLBACK)     # c2, not understood
    assert found["asdf qwerty"] == (UNSURE, Reason.FALLBACK)         # c3, twice: once here
    # c5: the FAQ answer did not help; c2's message before the person is a fallback already.
    assert found["what does shipping cost"] == (UNSURE, Reason.BEFORE_HANDOFF)
    assert "hi" not in found and "bye" not in found                  # understood, confident


def test_low_confidence_and_relabelled_messages_are_proposed_under_their_intent() -> None:
    conversation = (Conversation("web:rv1", "web", "web:rv1")
                    .user(at(0, 9), "parcel came squashed", "order_status", confidence=0.41)
                    .bot(at(0, 9, 0, 1))
                    .user(at(0, 9, 1), "do u do gift wrap", "faq", confidence=0.52, topic="gift_cards")
                    .bot(at(0, 9, 1, 1))
                    .gateway(at(0, 9, 5), "relabelled", intent="complaint",
                             text="parcel came squashed", wrong_answer=True))
    found = {c.text: (c.intent, c.reason) for c in candidates(conversation.records(), now=WEEK_END)}
    assert found["parcel came squashed"] == ("complaint", Reason.RELABELLED)  # the agent wins
    assert found["do u do gift wrap"] == ("faq/gift_cards", Reason.LOW_CONFIDENCE)


def test_texts_are_redacted() -> None:
    conversation = (Conversation("web:rv2", "web", "web:rv2")
                    .user(at(0, 9), "my mail is jo.smith@example.com help", "nlu_fallback")
                    .fallback(at(0, 9, 0, 1)))
    (candidate,) = candidates(conversation.records(), now=WEEK_END)
    assert "jo.smith@example.com" not in candidate.text and "@example.com" in candidate.text


def test_the_file_is_rasa_nlu_yaml(tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    run(candidates(records_of(the_week()), now=WEEK_END), review_dir=tmp_path, training_files=[])
    data = load_data(str(tmp_path / "candidates.yml"))
    texts = {m.get("text"): m.get("intent") for m in data.intent_examples}
    assert texts["asdf qwerty"] == UNSURE and texts["you are useless"] == UNSURE


def test_accepted_and_rejected_examples_are_remembered(tmp_path: Path) -> None:
    review, data = tmp_path / "review", tmp_path / "nlu.yml"
    found = candidates(records_of(the_week()), now=WEEK_END)
    data.write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    first = run(found, review_dir=review, training_files=[data])
    assert first.written >= 2
    # The trainer accepts "you are useless" as a complaint and deletes "asdf qwerty".
    data.write_text(data.read_text() + '- intent: complaint\n  examples: |\n    - You are useless!\n')
    edited = "\n".join(line for line in (review / "candidates.yml").read_text().splitlines()
                       if line.strip() != "- asdf qwerty")
    (review / "candidates.yml").write_text(edited + "\n")
    second = run(found, review_dir=review, training_files=[data])
    assert (second.newly_accepted, second.newly_rejected) == (1, 1)
    decisions = Decisions.load(review / "decisions.yml")
    assert decisions.accepted == {text_key("you are useless"): "complaint"}
    assert decisions.rejected == {text_key("asdf qwerty")}
    assert "useless" not in (review / "decisions.yml").read_text()  # hashes, not words
    assert second.written == first.written - 2
    third = run(found, review_dir=review, training_files=[data])  # nothing new decided
    assert (third.newly_accepted, third.newly_rejected, third.written) == (0, 0, second.written)


def test_the_review_folder_is_never_trained_on(tmp_path: Path) -> None:
    from bot.model_cache import training_data

    (tmp_path / "data" / "review").mkdir(parents=True)
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []\n")
    (tmp_path / "data" / "review" / "candidates.yml").write_text("nlu: []\n")
    assert training_data(tmp_path) == [tmp_path / "data" / "nlu.yml"]
