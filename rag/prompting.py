"""Prompt assembly: numbered passages with source and page, packed into the context window.

Token counts use the generator's own tokenizer (``count_tokens``). The system prompt, the
question frame and the recent conversation come first; then passages are added best first while
they fit, so when the budget is short the most relevant ones are kept (a passage that does not
fit is skipped, and a smaller one after it may still fit). If not even the best passage fits
whole, it is cut to what is left.

Example::

    messages, kept = build_messages(
        "How many days of leave?", passages, count_tokens=gen.count_tokens, budget=1800
    )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.generators.base import Message
from rag.types import Passage

DEFAULT_SYSTEM_PROMPT = (
    "Answer the question using only the numbered passages. Answer in one or two sentences "
    "and cite the passage numbers you used like [1]. If the passages do not contain the "
    "answer, say that the documents do not cover it."
)
DEFAULT_PASSAGE_TEMPLATE = "[{n}] {label}\n{text}"
DEFAULT_QUESTION_TEMPLATE = "Passages:\n{passages}\n\nQuestion: {question}"
#: tokens a chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD = 6
#: the smallest piece of a passage worth sending when it has to be cut.
MIN_PASSAGE_TOKENS = 32


@dataclass
class PromptTemplate:
    """System prompt and the frame around passages and question (all set in settings)."""

    system: str = DEFAULT_SYSTEM_PROMPT
    passage: str = DEFAULT_PASSAGE_TEMPLATE
    question: str = DEFAULT_QUESTION_TEMPLATE


def passage_label(passage: Passage) -> str:
    """'handbook.pdf, page 3' style label for a passage."""
    chunk = passage.chunk
    label = Path(chunk.source.split("#", 1)[0]).name
    if "#" in chunk.source:
        label += f"#{chunk.source.split('#', 1)[1]}"
    if chunk.page is not None:
        pages = f"pages {chunk.page}-{chunk.page_end}" if (chunk.page_end or 0) > chunk.page else ""
        label += f", {pages or f'page {chunk.page}'}"
    if chunk.title and chunk.title not in label:
        label += f" — {chunk.title}"
    if chunk.section:
        label += f" ({chunk.section})"
    return label


def truncate_to_tokens(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The longest prefix of ``text`` (cut at a word) that takes at most ``max_tokens``."""
    if count_tokens(text) <= max_tokens:
        return text
    words = text.split(" ")
    lo, hi = 0, len(words)
    while lo < hi:  # largest word count that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def trim_history(
    history: Sequence[Message], budget: int, count_tokens: Callable[[str], int]
) -> list[Message]:
    """The most recent messages of ``history`` that fit ``budget`` tokens, in order."""
    kept: list[Message] = []
    used = 0
    for message in reversed(history):
        cost = count_tokens(message["content"]) + MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":  # a history starts with the user's turn
        kept.pop(0)
    return kept


def build_messages(
    question: str,
    passages: Sequence[Passage],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
    template: PromptTemplate | None = None,
    history: Sequence[Message] = (),
    history_budget: int = 0,
) -> tuple[list[Message], list[Passage]]:
    """Chat messages within ``budget`` tokens, and the passages that fit (best first, numbered)."""
    t = template or PromptTemplate()
    frame = t.question.format(passages="", question=question)
    used = count_tokens(t.system) + count_tokens(frame) + 2 * MESSAGE_OVERHEAD
    past = trim_history(history, min(history_budget, max(0, budget - used)), count_tokens)
    used += sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in past)
    kept: list[Passage] = []
    blocks: list[str] = []
    for passage in passages:
        block = t.passage.format(
            n=len(kept) + 1, label=passage_label(passage), text=passage.chunk.text
        )
        cost = count_tokens(block) + 2
        if used + cost > budget:
            room = budget - used - 2 - (cost - count_tokens(passage.chunk.text))
            if kept or room < MIN_PASSAGE_TOKENS:
                continue
            text = truncate_to_tokens(passage.chunk.text, room, count_tokens)
            passage = replace(passage, chunk=replace(passage.chunk, text=text))
            block = t.passage.format(n=1, label=passage_label(passage), text=text)
            cost = count_tokens(block) + 2
            if used + cost > budget:
                continue
        used += cost
        kept.append(passage)
        blocks.append(block)
    user = t.question.format(passages="\n\n".join(blocks), question=question)
    messages: list[Message] = [{"role": "system", "content": t.system}, *past]
    messages.append({"role": "user", "content": user})
    return messages, kept


def prompt_tokens(messages: Sequence[Message], count_tokens: Callable[[str], int]) -> int:
    """Tokens the messages take, chat-template overhead included (an estimate)."""
    return sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages)
