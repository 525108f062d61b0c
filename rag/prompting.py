"""Prompt assembly: numbered passages with source and page, packed into the context window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.generators.base import Message
from rag.types import Passage

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions about company documents. Use only the numbered passages. "
    "Answer in one or two short sentences and cite the passages you used as [1], [2]. "
    "If the passages do not contain the answer, say that the documents do not cover it."
)


@dataclass
class PromptTemplate:
    """System prompt and the frame around passages and question."""

    system: str = DEFAULT_SYSTEM_PROMPT
    passage: str = "[{n}] {label}\n{text}"
    question: str = "Passages:\n\n{passages}\n\nQuestion: {question}"


def passage_label(passage: Passage) -> str:
    """'handbook.pdf, page 3' style label for a passage."""
    chunk = passage.chunk
    label = Path(chunk.source).name
    if chunk.page is not None:
        label += f", page {chunk.page}"
    if chunk.section:
        label += f" ({chunk.section})"
    return label


def build_messages(
    question: str,
    passages: Sequence[Passage],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
    template: PromptTemplate | None = None,
) -> tuple[list[Message], list[Passage]]:
    """Chat messages within ``budget`` tokens, and the passages that fit (best first, numbered)."""
    t = template or PromptTemplate()
    used = count_tokens(t.system) + count_tokens(t.question.format(passages="", question=question))
    used += 16  # chat-template overhead
    kept: list[Passage] = []
    blocks: list[str] = []
    for passage in passages:
        block = t.passage.format(
            n=len(kept) + 1, label=passage_label(passage), text=passage.chunk.text
        )
        cost = count_tokens(block) + 2
        if used + cost > budget:
            continue
        used += cost
        kept.append(passage)
        blocks.append(block)
    user = t.question.format(passages="\n\n".join(blocks), question=question)
    return [{"role": "system", "content": t.system}, {"role": "user", "content": user}], kept
