"""Extractive answers: the passage sentences that best answer the question, cited, no model.

Each sentence (or table row) of the retrieved passages is scored by its embedding similarity
to the question, the share of the question's content words it contains, and the rank of its
passage; the best one is the answer, with the next best added when it scores nearly as well.
Every word of the answer is a word of the documents, so it cannot invent a number.

Example::

    answerer = ExtractiveAnswerer(embedder)
    text = answerer.answer("How many days of annual leave?", passages)
    # "Full-time employees receive 28 days of annual leave per year [1]."
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.addressing import addresses
from rag.answerability import AnswerabilityJudge
from rag.embedders.base import Embedder
from rag.followups import resolve_pronouns, subject_of
from rag.grounding import EmbeddingCache, PassageSentence, passage_sentences
from rag.questions import (
    QuestionProfile,
    answer_type_strength,
    matched_terms,
    profile_question,
    question_parts,
    term_coverage,
)
from rag.table_rows import cells, header_for, is_row, render_row
from rag.text import content_words
from rag.types import Passage


@dataclass
class ExtractiveParams:
    """Weights of the sentence score and how many sentences an answer may take.

    Similarity, overlap and rank weights tuned on half of the COVID-QA dev questions
    (``benchmarks/calibrate_answers.py``); the type and coverage weights on the example questions
    and a COVID-QA subset (``benchmarks/answerability.py``).
    """

    similarity_weight: float = 1.0
    overlap_weight: float = 0.5
    #: bonus for sentences of better-ranked passages: ``rank_weight / passage number``.
    rank_weight: float = 0.1
    #: bonus for sentences of the document most of the retrieved passages come from.
    document_weight: float = 0.0
    #: bonus for a sentence holding the kind of thing the question asks for (a number for "how
    #: much", a date for "when"), times its strength (0, 0.5, 1) and the share of the question's
    #: key terms it holds; none for "what is" questions.
    type_weight: float = 0.15
    #: bonus for the question's key terms (names double) found around the sentence.
    coverage_weight: float = 0.15
    #: bonus for sentences of documents that match the period and names the question gives
    #: (``Passage.document_fit``): "Apple's Q2 2023 10-Q" answered from that filing, not from
    #: a sibling whose sentence reads as well.
    fit_weight: float = 0.5
    #: a second sentence is added when it scores at least this share of the best one.
    second_ratio: float = 0.95
    max_sentences: int = 2
    #: sentences shorter than this many words are joined with their neighbour.
    min_words: int = 5


@dataclass
class Candidate:
    """A sentence that could answer, with what its score is made of."""

    sentence: PassageSentence
    similarity: float
    overlap: float
    document_share: float
    #: weighted share of the question's key terms in the sentence, its neighbours, the
    #: passage's title and section (and a table row's header).
    coverage: float = 0.0
    #: the same for the sentence alone (with its title and section): what extraction weighs.
    own_coverage: float = 0.0
    #: how clearly the sentence holds the kind of answer asked for (see ``rag.questions``).
    type_strength: float = 0.5
    #: a typed question (not "what is ..."): the type bonus applies.
    typed: bool = False
    #: a table row's header line, for rendering the row with the header's meaning.
    header: str | None = None
    #: the question's key-term stems found around the sentence.
    matched: tuple[str, ...] = ()
    #: the passage's title and section (and a row's header): what the sentence is about.
    label: str = ""
    #: how well the sentence's document matches what the question names (0 where unknown).
    document_fit: float = 0.0

    def score(self, p: ExtractiveParams) -> float:
        """The weighted score under ``p``."""
        return (
            p.similarity_weight * self.similarity
            + p.overlap_weight * self.overlap
            + p.rank_weight / self.sentence.n
            + p.document_weight * self.document_share
            # the kind asked for counts as far as the sentence is about what was asked
            + (p.type_weight * self.type_strength * self.own_coverage if self.typed else 0.0)
            + p.coverage_weight * self.own_coverage
            + p.fit_weight * self.document_fit
        )


def _stem(word: str) -> str:
    return re.sub(r"(ies|es|s|ing|ed)$", "", word) if len(word) > 4 else word


def candidates(
    question: str,
    passages: Sequence[Passage],
    cache: EmbeddingCache,
    min_words: int = 5,
    profile: QuestionProfile | None = None,
) -> list[Candidate]:
    """Every sentence of the passages with its similarity, word overlap, document share, key-term
    coverage and answer-type strength."""
    sentences = _candidates(passage_sentences(passages), min_words, passages)
    if not sentences:
        return []
    profile = profile or profile_question(question)
    q_vec = cache.vectors([question])[0]
    sims = cache.vectors([c.text for c in sentences]) @ q_vec
    q_words = {_stem(w) for w in content_words(question)}
    docs = [p.chunk.doc_id for p in passages]
    out = []
    for i, (sim, sentence) in enumerate(zip(sims, sentences, strict=True)):
        words = {_stem(w) for w in content_words(sentence.text)}
        overlap = len(q_words & words) / len(q_words) if q_words else 0.0
        share = docs.count(docs[sentence.n - 1]) / len(docs)
        chunk = passages[sentence.n - 1].chunk
        header = header_for(chunk.text, sentence.start) if is_row(sentence.text) else None
        context = " ".join(
            [
                chunk.title,
                chunk.section,
                header or "",
                *(s.text for s in sentences[max(0, i - 1) : i + 2] if s.n == sentence.n),
            ]
        )
        matched = tuple(matched_terms(profile, context))
        coverage = term_coverage(profile, context)
        label = " ".join([chunk.title, chunk.section, header or ""])
        own = term_coverage(profile, f"{label} {sentence.text}")
        if header is not None:  # a row is chosen by its key: the entity in the question
            key = " ".join([chunk.title, chunk.section, header, cells(sentence.text)[0]])
            coverage = 0.6 * term_coverage(profile, key) + 0.4 * coverage
            own = 0.6 * term_coverage(profile, key) + 0.4 * own
        out.append(
            Candidate(
                sentence,
                float(sim),
                overlap,
                share,
                coverage=coverage,
                own_coverage=own,
                type_strength=answer_type_strength(profile.kind, sentence.text),
                typed=profile.kind != "other",
                header=header,
                matched=matched,
                label=" ".join([chunk.title, chunk.section, header or ""]).strip(),
                document_fit=passages[sentence.n - 1].document_fit or 0.0,
            )
        )
    return out


def choose(
    found: Sequence[Candidate], p: ExtractiveParams, profile: QuestionProfile | None = None
) -> list[Candidate]:
    """The answer sentences under ``p``, in passage order; with the question's ``profile``, a
    sentence after the best one only when it addresses the question too."""
    if not found:
        return []
    ranked = sorted(found, key=lambda c: c.score(p), reverse=True)
    best = ranked[0].score(p)
    chosen = [ranked[0]]
    for cand in ranked[1 : p.max_sentences]:
        if best > 0 and cand.score(p) >= p.second_ratio * best:
            if profile is not None and not addresses(profile, cand.sentence.text, [cand.label])[0]:
                continue
            chosen.append(cand)
    return sorted(chosen, key=lambda c: (c.sentence.n, c.sentence.start))


def render(chosen: Sequence[Candidate], profile: QuestionProfile | None = None) -> str:
    """Sentences joined, each with its ``[n]`` marker; a table row with its header's meaning."""
    parts = []
    for c in chosen:
        text = c.sentence.text
        if c.header is not None and profile is not None:
            text = render_row(text, c.header, profile)
        parts.append(_cited(text, c.sentence.n))
    return " ".join(parts)


class ExtractiveAnswerer:
    """Picks answer sentences from passages (see the module doc)."""

    def __init__(
        self,
        embedder: Embedder,
        params: ExtractiveParams | None = None,
        judge: AnswerabilityJudge | None = None,
    ) -> None:
        self.embedder = embedder
        self.params = params or ExtractiveParams()
        #: decides, for each part of a two-part question, whether the passages answer it.
        self.judge = judge or AnswerabilityJudge()

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        cache: EmbeddingCache | None = None,
        found: Sequence[Candidate] | None = None,
    ) -> str:
        """The answer text with ``[n]`` markers; "" when the passages have no sentences.

        ``found``: the candidates already scored for this question (``candidates``), if any.
        """
        cache = cache or EmbeddingCache(self.embedder)
        parts = question_parts(question)
        if len(parts) > 1:
            return self._answer_parts(parts, passages, cache)
        profile = profile_question(question)
        if found is None:
            found = candidates(question, passages, cache, self.params.min_words, profile)
        return render(choose(found, self.params, profile), profile)

    def _answer_parts(
        self, parts: Sequence[str], passages: Sequence[Passage], cache: EmbeddingCache
    ) -> str:
        """A two-part question answered part by part: the best sentence for each, and a
        sentence saying which part the passages do not answer."""
        one = dataclasses.replace(self.params, max_sentences=1)
        doc_ids = [p.chunk.doc_id for p in passages]
        rendered: list[tuple[Candidate, str]] = []
        unanswered: list[str] = []
        subject = subject_of(parts[0])
        for i, part in enumerate(parts):
            if i and subject:  # "How long does it protect?" -> "... does the vaccine protect?"
                part = resolve_pronouns(part, subject) or part
            profile = profile_question(part)
            found = candidates(part, passages, cache, self.params.min_words, profile)
            best = choose(found, one, profile)
            verdict = self.judge.judge(profile, found, doc_ids, relevance=1.0)
            if not best or not verdict.covered:
                unanswered.append(part)
                continue
            text = render(best, profile)
            if all(text != t for _, t in rendered):
                rendered.append((best[0], text))
        rendered.sort(key=lambda ct: (ct[0].sentence.n, ct[0].sentence.start))
        text = " ".join(t for _, t in rendered)
        if rendered and unanswered:
            text += f" The documents do not say: {' '.join(unanswered)}"
        return text


def is_heading(sentence: PassageSentence, passage: Passage) -> bool:
    """Whether a passage line is a heading or a label, not a sentence: a line of the section
    path, or a short line without final punctuation or figures ("2. Receipts", "Day 1 schedule")."""
    text = sentence.text.strip()
    if not text or is_row(text) or re.search(r"[.!?:;,]$", text):
        return False
    chunk = passage.chunk
    if text.lower() in (chunk.section.lower(), chunk.title.lower()) or text.lower() in [
        part.strip().lower() for part in chunk.section.split(" > ")
    ]:
        return True
    body = re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", text)  # "2. Receipts" -> "Receipts"
    words = body.split()
    return 0 < len(words) <= 4 and not re.search(r"\d", body)


def _ends_open(text: str) -> bool:
    """A line that stops mid-sentence (wrapped text): no final punctuation, not a table row."""
    return not is_row(text) and not re.search(r"[.!?:;)\]\"'”]$", text.rstrip())


def _candidates(
    sentences: list[PassageSentence], min_words: int, passages: Sequence[Passage] = ()
) -> list[PassageSentence]:
    """Sentences of each passage: headings left out, short ones and wrapped lines merged into the
    next sentence of the same passage."""
    out: list[PassageSentence] = []
    pending: PassageSentence | None = None
    for s in sentences:
        if passages and is_heading(s, passages[s.n - 1]):
            if pending is not None:
                out.append(pending)
                pending = None
            continue
        if pending is not None and pending.n == s.n:
            s = PassageSentence(s.n, pending.start, s.end, f"{pending.text} {s.text}")
        elif pending is not None:
            out.append(pending)
        pending = None
        if len(s.text.split()) < min_words or s.text.rstrip().endswith("?"):
            # short fragments and questions (FAQ "Q:" lines) go with the sentence after them
            pending = s
            continue
        if _ends_open(s.text) and len(s.text.split()) < 40:
            pending = s  # "First class is allowed for" + "train journeys over 4 hours ..."
            continue
        out.append(s)
    if pending is not None:
        out.append(pending)
    return out


def _cited(sentence: str, n: int) -> str:
    """'Text.' -> 'Text [n].'; rows and lines without final punctuation get ' [n]'."""
    text = sentence.strip()
    match = re.search(r"([.!?:;]+[\"')\]]*)$", text)
    if match:
        return f"{text[: match.start()]} [{n}]{match.group(1)}"
    return f"{text} [{n}]"
