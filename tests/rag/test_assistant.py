"""Questions over examples/docs: the document that holds the answer is cited first."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.container import Container
from rag.errors import InvalidRequestError
from rag.testing import EchoGenerator


def test_every_example_question_retrieves_its_document_first(
    example_container: Container, example_questions: list[dict[str, object]]
) -> None:
    misses = []
    for q in example_questions:
        [top, *_] = example_container.retriever.retrieve(str(q["question"]), top_k=5)
        if Path(top.chunk.source).name != q["source"]:
            misses.append((q["question"], Path(top.chunk.source).name))
        elif q.get("page") is not None and top.chunk.page != q["page"]:
            misses.append((q["question"], f"page {top.chunk.page}"))
    assert misses == []


@pytest.mark.slow
def test_real_generator_answers_and_every_sentence_is_checked(
    example_container: Container,
) -> None:
    answer = example_container.assistant.ask(
        "How many days of annual leave do full-time employees get?", top_k=3, mode="generative"
    )
    assert answer.answer.strip() and answer.mode == "generative"
    assert answer.model.startswith("SmolLM2")
    assert answer.timings["generate_ms"] > 0 and answer.usage["completion_tokens"] > 0
    # the 135M model's wording varies; what must hold is that nothing escapes the check
    assert answer.sentences and answer.grounded == all(s.supported for s in answer.sentences)
    for sentence in answer.sentences:
        assert sentence.supported or sentence.reason
    for citation in answer.citations:
        assert citation.quote in citation.text
        assert any(citation.n in s.citations for s in answer.sentences)


def test_empty_question_is_refused(example_container: Container) -> None:
    assistant = Assistant(example_container.retriever, EchoGenerator())
    with pytest.raises(InvalidRequestError, match="empty"):
        assistant.ask("   ")


def test_prompt_keeps_only_what_fits(example_container: Container) -> None:
    from rag.prompting import build_messages

    passages = example_container.retriever.retrieve("expenses mileage receipts", top_k=5)
    # passages include their neighbouring chunks (retrieval.neighbors = 1): ~200 words each
    messages, kept = build_messages(
        "mileage?", passages, count_tokens=lambda t: len(t.split()), budget=400
    )
    assert 0 < len(kept) < len(passages)
    assert kept[0] is passages[0]
    assert "[1]" in messages[-1]["content"] and f"[{len(kept) + 1}]" not in messages[-1]["content"]


def test_the_embedded_model_reads_a_capped_prompt(example_container: Container) -> None:
    from rag.assistant import AnswerConfig
    from rag.settings import EMBEDDED_PROMPT_TOKENS, AnswerSettings

    # the embedded 135M model: a small prompt budget; any other model: its context window
    assert example_container.max_prompt_tokens == EMBEDDED_PROMPT_TOKENS
    custom = Container(
        example_container.settings.model_copy(
            update={"answers": AnswerSettings(max_prompt_tokens=3000)}
        )
    )
    assert custom.max_prompt_tokens == 3000

    question = "How are mileage and receipts for expenses handled?"
    generator = EchoGenerator()
    uncapped = Assistant(example_container.retriever, generator)
    capped = Assistant(
        example_container.retriever,
        generator,
        config=AnswerConfig(mode="generative", max_prompt_tokens=300),
    )
    wide = uncapped.ask(question, top_k=10, mode="generative")
    narrow = capped.ask(question, top_k=10, mode="generative")
    assert wide.usage["prompt_tokens"] > 300 >= narrow.usage["prompt_tokens"] > 0
    assert narrow.covered and narrow.citations
