"""Answerability, aimed extraction and "addresses the question", over examples/docs.

The real embedder and index (the session's ``example_container``); no generator is called.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rag.answerability import AnswerabilityParams
from rag.assistant import NO_PASSAGES_ANSWER, AnswerConfig, Assistant
from rag.container import Container
from rag.generators.base import Message
from rag.grounding import GroundingChecker
from rag.questions import answer_type_in, profile_question, question_kind, term_coverage
from rag.testing import EchoGenerator
from rag.text import strip_markers
from rag.types import Chunk, Passage

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "answerability-examples.jsonl"


class MustNotGenerate(EchoGenerator):
    """A generator that fails the test if it is asked to write anything."""

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        raise AssertionError("the generator was called")


@pytest.fixture(scope="module")
def assistant(example_container: Container) -> Assistant:
    return Assistant(
        example_container.retriever, MustNotGenerate(), embedder=example_container.embedder
    )


def fixture_questions() -> list[dict[str, object]]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


# -- what a question asks for ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much does Insight Pro cost?", "amount"),
        ("What is the maximum hotel rate per night?", "amount"),
        ("What were Apple's iPhone net sales in the third quarter of 2022?", "amount"),
        ("How many days of annual leave do full-time employees get?", "count"),
        ("How long is the probation period?", "duration"),
        ("By what time do I have to tell my team lead that I'm sick?", "when"),
        ("And when do carried-over days expire?", "when"),
        ("Who approves trips outside the European Union?", "person"),
        ("Where should I report a phishing email?", "place"),
        ("What is the dress code?", "other"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_answer_types_and_key_terms() -> None:
    assert answer_type_in("duration", "The buddy programme runs for 6 weeks.")
    assert not answer_type_in("duration", "Your buddy meets you every Friday.")
    assert answer_type_in("amount", "The hotel cap is 140 EUR per night.")
    assert not answer_type_in("amount", "Second class is the standard.")
    assert answer_type_in("person", "Your team lead approves every trip.")
    profile = profile_question("What is the company policy on bringing dogs to the office?")
    assert "dog" in profile.terms and "policy" not in profile.terms  # generic words left out
    assert term_coverage(profile, "This policy applies to the office in Leipzig.") < 0.5
    wifi = profile_question("What is the guest WiFi password?")
    assert wifi.terms["wifi"] == 2.0  # a name weighs double, and "Wi-Fi" matches it
    assert term_coverage(wifi, "café Wi-Fi") == pytest.approx(0.5)


# -- covered or not ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "What is the company policy on bringing dogs to the office?",
        "What is the guest WiFi password?",
        "What is the dress code?",
    ],
)
def test_on_topic_questions_the_documents_do_not_answer_are_refused(
    assistant: Assistant, question: str
) -> None:
    answer = assistant.ask(question, mode="extractive")
    assert not answer.covered, answer.answer
    assert answer.answer == NO_PASSAGES_ANSWER and answer.citations == []
    assert answer.answerability["covered"] is False and answer.answerability["reason"]


def test_a_question_about_a_name_no_passage_mentions(example_container: Container) -> None:
    question = "Who manages the Leeds office?"
    answer = Assistant(example_container.retriever, MustNotGenerate()).ask(
        question, mode="extractive"
    )
    # by default the scores let it through, but what is extracted does not answer it
    assert not answer.covered or not answer.grounded
    strict = Assistant(
        example_container.retriever,
        MustNotGenerate(),
        config=AnswerConfig(answerability=AnswerabilityParams(refuse_absent_names=True)),
    )
    refused = strict.ask(question, mode="extractive")
    assert not refused.covered and "leeds" in refused.answerability["reason"]


def test_every_answerable_fixture_question_is_covered_and_answered(assistant: Assistant) -> None:
    answerable = [q for q in fixture_questions() if q["answerable"]]
    misses = []
    for q in answerable:
        answer = assistant.ask(str(q["question"]), mode="extractive")
        if not answer.covered:
            misses.append((q["question"], answer.answerability["reason"]))
    assert len(misses) <= 1, misses


def test_most_unanswerable_fixture_questions_are_refused(assistant: Assistant) -> None:
    unanswerable = [q for q in fixture_questions() if not q["answerable"]]
    refused = [
        not assistant.ask(str(q["question"]), mode="extractive").covered for q in unanswerable
    ]
    assert sum(refused) / len(refused) >= 0.5  # one cosine refused 5 of 40


# -- extraction that aims ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "wanted", "unwanted"),
    [
        ("How much does Insight Pro cost?", ["Insight Pro", "List price 119 EUR"], ["Starter"]),
        ("How much storage is included with Insight Starter?", ["50 GB"], ["500 GB"]),
        ("What is the full-day per-diem allowance in Vienna?", ["Vienna", "40"], ["Zurich"]),
        ("How long does the buddy programme run?", ["6 weeks"], []),
        ("When am I allowed to travel first class by train?", ["over 4 hours"], []),
    ],
)
def test_the_extracted_answer_holds_what_was_asked(
    assistant: Assistant, question: str, wanted: list[str], unwanted: list[str]
) -> None:
    answer = assistant.ask(question, mode="extractive")
    text = strip_markers(answer.answer)
    for piece in wanted:
        assert piece in text, text
    for piece in unwanted:
        assert piece not in text, text
    assert answer.grounded, answer.sentences


def test_a_two_part_question_is_answered_in_both_parts_or_said_to_be_in_part(
    assistant: Assistant,
) -> None:
    both = strip_markers(
        assistant.ask(
            "How much does Insight Pro cost and how much storage does it include?",
            mode="extractive",
        ).answer
    )
    assert "119 EUR" in both and "500 GB" in both
    part = assistant.ask(
        "What is the hotel cap in Munich and what is the dress code?", mode="extractive"
    )
    assert "190 EUR" in part.answer
    assert part.answer.endswith("The documents do not say: What is the dress code?")
    assert assert_parts("Is it safe? How long does it protect?") == 1
    assert assert_parts("Is the vaccine safe in pregnancy? How long does it protect infants?") == 2


def assert_parts(question: str) -> int:
    from rag.questions import question_parts

    return len(question_parts(question))


def test_headings_stay_out_of_extracted_sentences(assistant: Assistant) -> None:
    chunk = Chunk(
        id="c1",
        doc_id="d1",
        source="/docs/security.md",
        section="Security > Passwords",
        text="Passwords\nEvery password must be at least 14 characters long.\nRemote access\n"
        "Internal systems are reachable only through the company VPN.",
    )
    text = assistant.extractor.answer("How long must a password be?", [Passage(chunk, 1.0)])
    assert text.startswith("Every password must be at least 14 characters long")


# -- grounded means supported and on the question ---------------------------------------------


def test_a_supported_sentence_that_does_not_answer_is_not_grounded(
    example_container: Container,
) -> None:
    checker = GroundingChecker(example_container.embedder)
    chunk = Chunk(
        id="c1",
        doc_id="d1",
        source="/docs/expenses.docx",
        text="Questions: finance@northwind-analytics.de, contact person Jonas Albrecht.",
    )
    answer = "The contact person is Jonas Albrecht [1]."
    off = checker.check(answer, [Passage(chunk, 1.0)], question="Who manages the Leeds office?")
    assert off.sentences[0].supported and not off.sentences[0].addresses
    assert off.sentences[0].off_question == [1] and "off the question" in off.sentences[0].reason
    assert not off.grounded
    on = checker.check(
        answer, [Passage(chunk, 1.0)], question="Who is the contact person for expenses?"
    )
    assert on.sentences[0].addresses and on.grounded


def test_the_cli_says_why_and_flags_an_off_question_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli.ask_cmds import print_grounding
    from rag.types import Answer, SentenceSupport

    refused = Answer(
        NO_PASSAGES_ANSWER,
        [],
        covered=False,
        answerability={"reason": "not found in the passages: dog"},
    )
    print_grounding(refused)
    assert "not found in the passages: dog" in capsys.readouterr().out
    off = SentenceSupport("The contact is Jonas Albrecht.", [1], True, 0.9, addresses=False)
    off.reason = "off the question: does not match the question"
    print_grounding(Answer("The contact is Jonas Albrecht [1].", [], sentences=[off]))
    printed = capsys.readouterr().out
    assert "not an answer to the question" in printed and "Grounded" not in printed
