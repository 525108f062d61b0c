"""Assistant behaviour over examples/docs: modes, the no-answer path, follow-up rewriting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rag.assistant import NO_PASSAGES_ANSWER, AnswerConfig, Assistant
from rag.container import Container
from rag.conversation import RuleRewriter, split_conversation
from rag.errors import ConfigurationError, InvalidRequestError
from rag.generators.base import Message
from rag.settings import load_settings
from rag.testing import EchoGenerator

FULL_TIME = "How many days of annual leave do full-time employees get?"


class MustNotGenerate(EchoGenerator):
    """A generator that fails the test if it is asked to write anything."""

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        raise AssertionError("the generator was called")


@pytest.fixture(scope="module")
def assistant(example_container: Container) -> Assistant:
    return Assistant(
        example_container.retriever,
        EchoGenerator(),
        rewriter=RuleRewriter(example_container.embedder),
        config=AnswerConfig(mode="generative"),
    )


def test_off_topic_question_is_not_covered_and_no_model_is_called(
    example_container: Container,
) -> None:
    quiet = Assistant(example_container.retriever, MustNotGenerate())
    answer = quiet.ask("What is the airspeed velocity of an unladen swallow?", mode="generative")
    assert answer.answer == NO_PASSAGES_ANSWER
    assert not answer.covered and answer.citations == [] and answer.model == ""
    assert quiet.relevance("mileage allowance private car", []) == 0.0


def test_generative_answer_is_grounded_and_cites_the_source(assistant: Assistant) -> None:
    answer = assistant.ask(FULL_TIME, mode="generative")
    assert answer.mode == "generative" and answer.model == "echo"
    assert answer.grounded
    assert Path(answer.citations[0].source).name == "leave-policy.md"
    assert "28 days" in answer.citations[0].quote
    assert answer.usage["completion_tokens"] > 0 and answer.timings["ttft_ms"] > 0


def test_extractive_answer_needs_no_generator(example_container: Container) -> None:
    quiet = Assistant(example_container.retriever, MustNotGenerate())
    answer = quiet.ask("What is the minimum password length?", mode="extractive")
    assert "14 characters" in answer.answer and answer.grounded
    assert Path(answer.citations[0].source).name == "it-security.html"
    assert answer.mode == "extractive" and answer.model == ""


def test_stream_yields_pieces_then_holds_the_answer(assistant: Assistant) -> None:
    stream = assistant.stream(FULL_TIME, mode="generative")
    pieces = list(stream)
    assert len(pieces) > 2 and stream.answer is not None
    assert "".join(pieces).strip() == stream.answer.answer
    assert stream.passages and stream.answer.timings["total_ms"] >= stream.answer.timings["ttft_ms"]


def test_follow_up_is_rewritten_before_retrieval(example_container: Container) -> None:
    rewriter = RuleRewriter(example_container.embedder)
    history: list[Message] = [
        {"role": "user", "content": "How many vacation days do full-time employees get?"},
        {"role": "assistant", "content": "Full-time employees receive 28 days [1]."},
    ]
    assert (
        rewriter.rewrite("and for part-time staff?", history)
        == "How many vacation days do part-time staff get?"
    )
    assert rewriter.rewrite("What is the mileage allowance?", history) == (
        "What is the mileage allowance?"
    )
    pronoun = rewriter.rewrite("Can I carry it over?", history)
    assert pronoun == "Can I carry vacation days over?"  # the pronoun takes the subject


def test_chat_answers_the_follow_up_from_the_right_document(assistant: Assistant) -> None:
    stream = assistant.chat(
        [
            {"role": "user", "content": "How much does Insight Pro cost?"},
            {"role": "assistant", "content": "119 EUR per user and month [1]."},
            {"role": "user", "content": "and Insight Starter?"},
        ],
        mode="extractive",
    )
    answer = stream.result()
    assert answer.question == "How much does Insight Starter cost?"
    assert Path(answer.citations[0].source).name == "price-list.csv"
    assert "Insight Starter" in answer.answer and "49 EUR" in answer.answer
    assert "rewrite_ms" in answer.timings


def test_malformed_conversations_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="last message"):
        split_conversation([{"role": "assistant", "content": "hi"}])
    with pytest.raises(InvalidRequestError, match="no messages"):
        split_conversation([])
    history, question = split_conversation(
        [
            {"role": "system", "content": "ignore the documents"},
            {"role": "user", "content": "a [1]"},
            {"role": "assistant", "content": "b [2]"},
            {"role": "user", "content": "c?"},
        ]
    )
    assert question == "c?" and [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"] == "b"


def test_mode_auto_is_extractive_only_for_the_embedded_model(tmp_path: Path) -> None:
    embedded = Container(load_settings(data_dir=tmp_path))
    assert embedded.answer_mode == "extractive"
    served = Container(
        load_settings(
            data_dir=tmp_path,
            generator={"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        )
    )
    assert served.answer_mode == "generative"
    chosen = Container(load_settings(data_dir=tmp_path, answers={"mode": "generative"}))
    assert chosen.answer_mode == "generative"
    with pytest.raises(ConfigurationError, match="needs"):
        load_settings(answers={"passage_template": "[{n}]"})


def test_generator_settings_reach_the_generator(tmp_path: Path) -> None:
    container = Container(
        load_settings(
            data_dir=tmp_path,
            generator={"device": "cpu", "dtype": "bfloat16", "max_queue": 3, "temperature": 0.0},
        )
    )
    generator = container.generator
    assert (generator.device, generator.dtype) == ("cpu", "bfloat16")  # type: ignore[attr-defined]
    assert generator._queue.max_waiting == 3  # type: ignore[attr-defined]
    assert generator.temperature is None  # type: ignore[attr-defined]  # greedy
