"""Follow-up rewriting by rules: pronouns, "there", prepositional ellipsis, new subjects.

The pairs are tests/fixtures/follow-ups.jsonl (benchmarks/followups.py reports the same set);
the embedder is the real all-MiniLM-L6-v2 (the substitution of a new subject uses it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.container import Container
from rag.conversation import RuleRewriter
from rag.followups import replace_phrase, resolve_pronouns, subject_of
from rag.generators.base import Message

PAIRS = Path(__file__).resolve().parents[1] / "fixtures" / "follow-ups.jsonl"


def history_of(*questions: str) -> list[Message]:
    turns: list[Message] = []
    for q in questions:
        turns += [{"role": "user", "content": q}, {"role": "assistant", "content": "An answer."}]
    return turns


def words(text: str) -> str:
    return " ".join(re.findall(r"[\w'-]+", text.lower()))


@pytest.fixture(scope="module")
def rewriter(example_container: Container) -> RuleRewriter:
    return RuleRewriter(example_container.embedder)


def test_the_issue_follow_up_reads_right(rewriter: RuleRewriter) -> None:
    history = history_of("Who manages the Leeds office?")
    assert (
        rewriter.rewrite("And how many people work there?", history)
        == "How many people work at the Leeds office?"
    )
    assert rewriter.rewrite("When did it open?", history) == "When did the Leeds office open?"


def test_the_written_follow_up_pairs(rewriter: RuleRewriter) -> None:
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    right = [
        words(rewriter.rewrite(p["question"], history_of(*p["history"])))
        in {words(e) for e in p["expected"]}
        for p in pairs
    ]
    assert sum(right) / len(right) >= 0.9


def test_subjects_pronouns_and_phrases() -> None:
    assert subject_of("How much does Insight Pro cost?") == "Insight Pro"
    assert subject_of("Which hardware key is used as the second factor?") == "the hardware key"
    assert subject_of("How long is parental leave?") == "parental leave"
    assert subject_of("What is the name of the company VPN?") == "the company VPN"
    assert resolve_pronouns("Is it paid", "parental leave") == "Is parental leave paid?"
    assert resolve_pronouns("What is the dress code", "the office") is None
    assert (
        replace_phrase("Who approves expense claims above 2,500 EUR?", "below 500 EUR")
        == "Who approves expense claims below 500 EUR?"
    )
    assert (
        replace_phrase("What is the hotel cap?", "in Munich") == "What is the hotel cap in Munich?"
    )
