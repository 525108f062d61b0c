"""Conversations: a follow-up question is rewritten to stand alone before retrieval.

"and for part-time staff?" after "How many vacation days do full-time employees get?" is
retrieved as "How many vacation days do part-time staff get?". Two rewriters share the
``QueryRewriter`` seam:

- ``RuleRewriter`` (the default for the embedded 135M model, which rewrites poorly): a
  follow-up that names a new subject ("what about X?", "and for X?") has that subject put in
  place of the phrase of the previous question it is most similar to (by embedding); any other
  follow-up ("how long is it?") keeps the previous question beside it as context.
- ``ModelRewriter`` (the default for a configured model): asks the generator, and falls back to
  the rules when the model's output is not a usable question.

Example::

    rewriter = RuleRewriter(embedder)
    rewriter.rewrite("and for part-time staff?", [
        {"role": "user", "content": "How many vacation days do full-time employees get?"},
        {"role": "assistant", "content": "25 days [1]."},
    ])  # -> "How many vacation days do part-time staff get?"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag.embedders.base import Embedder
from rag.errors import InvalidRequestError, TooLargeError
from rag.followups import rewrite_follow_up
from rag.generators.base import Generator, Message, complete
from rag.text import STOPWORDS, content_words, strip_markers

MAX_MESSAGES = 200
#: longest message, and longest conversation, a request may send (characters).
MAX_MESSAGE_CHARS = 32_000
MAX_CONVERSATION_CHARS = 200_000
#: what follow-up rewriting reads of the earlier turns: the last few user turns, and only the
#: end of each (rule rewriting embeds every short phrase of what it reads).
REWRITE_TURNS = 4
REWRITE_TURN_CHARS = 600
ROLES = ("system", "user", "assistant")
_CUES = re.compile(
    r"^\s*(?:(?:and|but|also|so|ok|okay|then|now|what|how)\b[\s,]*)*"
    r"(?:about|of|regarding|as for|for|with|in the case of|same for|same with)?\b\s*",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will may might must has have had".split()
)
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|ok|okay|then|now|for|regarding|as for|same|what about|how about|"
    r"what of)\b",
    re.IGNORECASE,
)
_PREPOSITIONS = frozenset(
    "in at on during under after before within outside inside since until from to by".split()
)
_PRONOUNS = frozenset("it its they them their theirs this that these those he she his her".split())


class QueryRewriter(Protocol):
    """Turns the last question of a conversation into one that stands alone."""

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        """The standalone form of ``question`` given the earlier ``history``."""
        ...


def split_conversation(messages: Sequence[Message]) -> tuple[list[Message], str]:
    """(earlier user/assistant turns, the last user question); InvalidRequestError if malformed.

    System messages from clients are dropped: Ragstead's own system prompt keeps answers
    grounded.
    """
    if not messages:
        raise InvalidRequestError("the conversation has no messages", hint="send a user message")
    if len(messages) > MAX_MESSAGES:
        raise InvalidRequestError(
            f"the conversation has {len(messages)} messages; the limit is {MAX_MESSAGES}",
            hint="send only the recent turns",
        )
    for i, m in enumerate(messages):
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InvalidRequestError(
                f"message {i} needs a role ({', '.join(ROLES)}) and text content"
            )
    sizes = [len(m["content"]) for m in messages]
    if max(sizes) > MAX_MESSAGE_CHARS:
        raise TooLargeError(
            f"message {sizes.index(max(sizes))} is {max(sizes):,} characters long; the limit is"
            f" {MAX_MESSAGE_CHARS:,}",
            hint="send shorter messages",
        )
    if sum(sizes) > MAX_CONVERSATION_CHARS:
        raise TooLargeError(
            f"the conversation is {sum(sizes):,} characters long; the limit is"
            f" {MAX_CONVERSATION_CHARS:,}",
            hint="send only the recent turns",
        )
    if messages[-1]["role"] != "user":
        raise InvalidRequestError(
            "the last message must be the user's question", hint="end with a user message"
        )
    history = [
        {"role": m["role"], "content": strip_markers(m["content"])}
        for m in messages[:-1]
        if m["role"] != "system" and m["content"].strip()
    ]
    return history, messages[-1]["content"]


def _user_turns(history: Sequence[Message]) -> list[str]:
    return [m["content"].strip() for m in history if m["role"] == "user" and m["content"].strip()]


def _tail(text: str, limit: int = REWRITE_TURN_CHARS) -> str:
    """The last ``limit`` characters of ``text``, from a word start where one is near."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < 40 else cut


class RuleRewriter:
    """Rewrites follow-ups by substitution or by adding the previous question as context."""

    def __init__(self, embedder: Embedder, *, min_similarity: float = 0.3) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        """The standalone form of ``question`` (unchanged when it already stands alone)."""
        previous: str | None = None
        for turn in _user_turns(history)[-REWRITE_TURNS:]:  # earlier follow-ups, in order
            turn = _tail(turn)
            previous = turn if previous is None else _tail(self._rewrite_one(turn, previous))
        return question.strip() if previous is None else self._rewrite_one(question, previous)

    def is_follow_up(self, question: str) -> bool:
        """Whether ``question`` leans on an earlier turn (a cue word, a pronoun, few words)."""
        words = [w.lower() for w in re.findall(r"[\w'-]+", question)]
        if not words:
            return False
        has_cue = bool(_FOLLOW_UP_START.match(question)) and not self._is_full_question(question)
        pronoun = any(w in _PRONOUNS for w in words)
        n_content = len([w for w in words if w not in STOPWORDS])
        if has_cue or pronoun:
            return True
        if words[0] in _QUESTION_WORDS and n_content >= 2:
            return False  # "What is the mileage allowance?" stands alone
        return n_content <= 2  # "part-time staff?"

    @staticmethod
    def _is_full_question(question: str) -> bool:
        """A question with its own verb and at least three content words and no pronoun."""
        words = [w.lower() for w in re.findall(r"[\w'-]+", question)]
        return (
            len(content_words(question)) >= 3
            and not any(w in _PRONOUNS for w in words)
            and not re.match(r"^\s*(and|but|what about|how about)\b", question, re.IGNORECASE)
        )

    def _rewrite_one(self, question: str, previous: str) -> str:
        q = question.strip()
        if not self.is_follow_up(q):
            return q
        rewritten = rewrite_follow_up(q, previous, self._substitute)
        if rewritten:
            return rewritten
        focus = _CUES.sub("", q, count=1).strip().rstrip("?!. ").strip()
        focus_words = focus.split()
        starts_like_question = bool(focus_words) and focus_words[0].lower() in _QUESTION_WORDS
        pronoun = any(w.lower().strip(",.?") in _PRONOUNS for w in focus_words)
        if focus_words and focus_words[0].lower() in _PREPOSITIONS:
            return f"{previous.rstrip('?!. ')} {focus}?"
        if focus_words and len(focus_words) <= 6 and not starts_like_question and not pronoun:
            focus = re.sub(r"^(the|a|an)\s+", "", focus, flags=re.IGNORECASE)
            swapped = self._substitute(previous, focus)
            if swapped:
                return swapped
            return f"{previous.rstrip('?!. ')}, for {focus}?"
        return f"{q.rstrip('?!. ')}? (follow-up to: {previous.rstrip()})"

    def _substitute(self, previous: str, focus: str) -> str | None:
        """``previous`` with its phrase most similar to ``focus`` replaced by it (or None)."""
        tokens = list(re.finditer(r"[\w'’-]+", previous))
        spans: list[tuple[int, int]] = []
        for i in range(len(tokens)):
            for j in range(i, min(len(tokens), i + 4)):
                words = [t.group(0).lower() for t in tokens[i : j + 1]]
                if words[0] in STOPWORDS or words[-1] in STOPWORDS:
                    continue
                if any(w in _QUESTION_WORDS for w in words):  # a phrase, not across the verb
                    continue
                spans.append((tokens[i].start(), tokens[j].end()))
        if not spans:
            return None
        texts = [previous[s:e] for s, e in spans]
        vectors = self.embedder.embed_batch([focus, *texts])
        sims = np.asarray(vectors[1:] @ vectors[0], dtype=np.float32)
        # a longer phrase wins a near tie: "full-time employees" over "employees"
        sims = sims + np.array([0.02 * (len(t.split()) - 1) for t in texts], dtype=np.float32)
        best = int(np.argmax(sims))
        if float(sims[best]) < self.min_similarity:
            # a new name ("the Connector Pack") takes the place of the previous one
            names = [
                i
                for i, t in enumerate(texts)
                if spans[i][0] > 0 and all(w[:1].isupper() for w in t.split())
            ]
            if not focus[:1].isupper() or not names:
                return None
            best = max(names, key=lambda i: float(sims[i]))
        start, end = spans[best]
        # a name is replaced whole: "Insight" in "Insight Pro" stands for "Insight Pro"
        first = next(i for i, t in enumerate(tokens) if t.start() == start)
        last = next(i for i, t in enumerate(tokens) if t.end() == end)
        while last + 1 < len(tokens) and _is_name_part(tokens[last + 1].group(0)):
            last += 1
            end = tokens[last].end()
        while first > 1 and _is_name_part(tokens[first - 1].group(0)):
            first -= 1
            start = tokens[first].start()
        # a new thing replaces its old modifiers too: "a private car" -> "a motorbike"
        mods = first
        while mods > 0 and _is_modifier(tokens[mods - 1].group(0)):
            mods -= 1
        if mods < first and mods > 0 and tokens[mods - 1].group(0).lower() in _NP_START:
            start = tokens[mods].start()
        return previous[:start] + focus + previous[end:]


_NP_START = frozenset("a an the my our your for of in on at to with by from".split())


def _is_modifier(word: str) -> bool:
    return word.islower() and word not in STOPWORDS | _QUESTION_WORDS | _PREPOSITIONS


def _is_name_part(word: str) -> bool:
    return word[:1].isupper() and word.lower() not in _QUESTION_WORDS | STOPWORDS


REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Keep its meaning and its language. Reply with the rewritten question only."
)


class ModelRewriter:
    """Asks the generator for the standalone question; ``fallback`` when the reply is unusable."""

    def __init__(
        self, generator: Generator, fallback: QueryRewriter, *, max_new_tokens: int = 64
    ) -> None:
        self.generator = generator
        self.fallback = fallback
        self.max_new_tokens = max_new_tokens

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        """The model's standalone question, or the fallback's."""
        if not _user_turns(history):
            return question.strip()
        lines = [f"{m['role'].capitalize()}: {_tail(m['content'].strip())}" for m in history[-6:]]
        prompt = (
            "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question.strip()}\n"
            "Standalone question:"
        )
        messages: list[Message] = [
            {"role": "system", "content": REWRITE_SYSTEM},
            {"role": "user", "content": prompt},
        ]
        reply = complete(
            self.generator, messages, max_new_tokens=self.max_new_tokens, stop=["\n"]
        ).strip()
        reply = reply.removeprefix("Standalone question:").strip().strip('"')
        if not reply or len(reply) > 400 or len(content_words(reply)) < 2:
            return self.fallback.rewrite(question, history)
        return reply
