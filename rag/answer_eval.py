"""Answer evaluation: run the assistant over labelled questions and score what it says.

Question sets (``load_questions``):

- JSON lines in the COVID-QA layout: ``{"id", "question", "doc_id", "answers": [{"text"}]}``
  (the gold document is the corpus record ``doc_id``);
- JSON lines like ``examples/questions.jsonl``: ``{"question", "source", "answer"}``;
- CSV like the SEC 10-Q QnA: ``Question``, ``Source Docs`` (a file-name glob), ``Answer``.

Per answer: whether its citations include the gold document, token F1 and whether it contains
a gold answer (meaningful where gold answers are short spans, as in COVID-QA), whether it is
grounded, time to first token and decoding speed. ``summarise`` turns the rows into the figures
``ragstead eval answers --json`` prints.

Example::

    questions = load_questions(Path("covidqa/questions-dev.jsonl"), limit=100)
    rows = [evaluate_one(assistant, q, mode="extractive") for q in questions]
    summarise(rows, top_k=5)["citation@k"]
"""

from __future__ import annotations

import csv
import fnmatch
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.assistant import Assistant
from rag.errors import InvalidRequestError, NotFoundError
from rag.text import contains_answer, strip_markers, token_f1


@dataclass
class EvalQuestion:
    """A labelled question: gold answers and the documents that hold them."""

    id: str
    question: str
    answers: list[str]
    #: gold documents: a corpus record id, a file name, or a file-name glob ("*AAPL*").
    gold: list[str]


@dataclass
class EvalRow:
    """What happened to one question."""

    id: str
    question: str
    answer: str
    cited_gold: bool
    retrieved_gold: bool
    f1: float | None
    contains_gold: bool | None
    grounded: bool
    covered: bool
    ttft_ms: float
    total_ms: float
    decode_ms: float
    completion_tokens: int
    cited: list[str] = field(default_factory=list)


def matches_gold(source: str, gold: Sequence[str]) -> bool:
    """Whether a chunk source is one of the gold documents (record id, file name or glob)."""
    name = Path(source.split("#", 1)[0]).name
    record = source.split("#", 1)[1] if "#" in source else None
    for pattern in gold:
        if any(ch in pattern for ch in "*?["):
            if fnmatch.fnmatch(name, pattern):
                return True
        elif pattern in (record, name):
            return True
    return False


def _spread(items: list[EvalQuestion], limit: int | None) -> list[EvalQuestion]:
    """``limit`` questions spread evenly over the set (all documents represented), in order."""
    if limit is None or limit >= len(items):
        return items
    if limit < 1:
        raise InvalidRequestError("--limit must be at least 1")
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def load_questions(path: Path, *, limit: int | None = None) -> list[EvalQuestion]:
    """Questions from a JSON-lines or CSV file (see the module doc), ``limit`` spread evenly."""
    if not path.is_file():
        raise NotFoundError(f"no questions file at {path}", hint="give a .jsonl or .csv file")
    items: list[EvalQuestion] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                question = (row.get("Question") or "").strip()
                if not question:
                    continue
                answer = (row.get("Answer") or "").strip()
                gold = [g.strip() for g in (row.get("Source Docs") or "").split(",") if g.strip()]
                items.append(EvalQuestion(str(i), question, [answer] if answer else [], gold))
    else:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            record = json.loads(line)
            answers = [a["text"] for a in record.get("answers", []) if a.get("text")]
            if record.get("answer"):
                answers.append(str(record["answer"]))
            gold = [str(record[k]) for k in ("doc_id", "source") if record.get(k)]
            items.append(EvalQuestion(str(record.get("id", i)), record["question"], answers, gold))
    if not items:
        raise InvalidRequestError(f"{path} holds no questions")
    return _spread(items, limit)


def evaluate_one(
    assistant: Assistant, question: EvalQuestion, *, mode: str | None, top_k: int | None = None
) -> EvalRow:
    """Answer one question and score the answer."""
    stream = assistant.stream(question.question, top_k=top_k, mode=mode)
    answer = stream.result()
    text = strip_markers(answer.answer)
    cited = [c.source for c in answer.citations]
    f1 = max((token_f1(text, g) for g in question.answers), default=None)
    contains = any(contains_answer(text, g) for g in question.answers) if question.answers else None
    timings = answer.timings
    tokens = answer.usage.get("completion_tokens")
    if tokens is None:  # no model wrote it: count with the generator's tokenizer
        tokens = assistant.generator.count_tokens(answer.answer) if answer.answer else 0
    return EvalRow(
        id=question.id,
        question=question.question,
        answer=answer.answer,
        cited_gold=any(matches_gold(s, question.gold) for s in cited),
        retrieved_gold=any(matches_gold(p.chunk.source, question.gold) for p in stream.passages),
        f1=f1,
        contains_gold=contains,
        grounded=answer.grounded,
        covered=answer.covered,
        ttft_ms=timings.get("ttft_ms", 0.0),
        total_ms=timings.get("total_ms", 0.0),
        decode_ms=timings.get("decode_ms", 0.0),
        completion_tokens=tokens,
        cited=cited,
    )


def _share(values: Sequence[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


def summarise(rows: Sequence[EvalRow], *, top_k: int, mode: str) -> dict[str, Any]:
    """The figures of a run: shares, F1, latency and speed."""
    decoding = [r for r in rows if r.decode_ms > 0 and r.completion_tokens > 1]
    if mode == "generative" and decoding:  # tokens after the first one, per second of decoding
        tokens_per_s = sum(r.completion_tokens - 1 for r in decoding) / (
            sum(r.decode_ms for r in decoding) / 1000
        )
    else:  # the answer arrives whole (extractive): answer tokens per second of the request
        total_s = sum(r.total_ms for r in rows) / 1000
        tokens_per_s = sum(r.completion_tokens for r in rows) / total_s if total_s else 0.0
    f1s = [r.f1 for r in rows if r.f1 is not None]
    return {
        "questions": len(rows),
        "mode": mode,
        "k": top_k,
        "citation@k": _share([r.cited_gold for r in rows]),
        "retrieval@k": _share([r.retrieved_gold for r in rows]),
        "answer_f1": round(statistics.fmean(f1s), 4) if f1s else None,
        "contains_gold": _share([r.contains_gold for r in rows]),
        "grounded_share": _share([r.grounded for r in rows]),
        "covered_share": _share([r.covered for r in rows]),
        "ttft_p50_ms": _percentile([r.ttft_ms for r in rows], 0.5),
        "ttft_p95_ms": _percentile([r.ttft_ms for r in rows], 0.95),
        "total_p50_ms": _percentile([r.total_ms for r in rows], 0.5),
        "tokens_per_s": round(tokens_per_s, 2),
    }


def rows_as_dicts(rows: Sequence[EvalRow]) -> list[dict[str, Any]]:
    """Per-question rows for a JSON report."""
    return [asdict(r) for r in rows]
