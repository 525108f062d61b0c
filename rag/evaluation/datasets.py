"""Readers for labelled evaluation data: BEIR corpora, queries and qrels, and QA questions.

Formats (one JSON object per line, UTF-8):

- corpus ``CORPUS.jsonl``: ``{"_id": "d1", "title": "...", "text": "..."}`` (``title`` optional;
  other keys are kept as metadata);
- queries ``QUERIES.jsonl``: ``{"_id": "q1", "text": "..."}``;
- qrels ``QRELS.tsv``: tab-separated ``query-id  corpus-id  score`` with a header line; score > 0
  is relevant (graded scores are used as gains by nDCG);
- QA questions ``QUESTIONS.jsonl``: ``{"id": "1", "question": "...", "doc_id": "d1",
  "answers": [{"text": "verbatim span of the document"}]}``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InvalidRequestError, NotFoundError


@dataclass
class CorpusRecord:
    """One document of a corpus: id, title, text and any other fields as metadata."""

    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class QAQuestion:
    """A question whose answers are verbatim spans of one document."""

    id: str
    question: str
    doc_id: str
    answers: list[str]


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}", hint="check the path")
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequestError(
                    f"{path.name} line {n} is not JSON: {exc.msg}",
                    hint="one JSON object per line (JSON Lines)",
                ) from exc
            if not isinstance(obj, dict):
                raise InvalidRequestError(f"{path.name} line {n} is not a JSON object")
            yield n, obj


def _need(obj: dict[str, Any], key: str, path: Path, n: int, hint: str) -> Any:
    if key not in obj:
        raise InvalidRequestError(f"{path.name} line {n} has no '{key}'", hint=hint)
    return obj[key]


def read_corpus(path: Path) -> Iterator[CorpusRecord]:
    """Records of a BEIR ``corpus.jsonl``."""
    hint = 'each line: {"_id": "...", "title": "...", "text": "..."}'
    for n, obj in _lines(path):
        rid = str(_need(obj, "_id", path, n, hint))
        text = str(_need(obj, "text", path, n, hint) or "")
        title = str(obj.get("title") or "")
        meta = {k: v for k, v in obj.items() if k not in ("_id", "text", "title")}
        yield CorpusRecord(rid, text, title, meta)


def read_queries(path: Path) -> dict[str, str]:
    """Query id to text, from a BEIR ``queries.jsonl``."""
    hint = 'each line: {"_id": "...", "text": "..."}'
    return {
        str(_need(o, "_id", path, n, hint)): str(_need(o, "text", path, n, hint))
        for n, o in _lines(path)
    }


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Query id to {corpus id: relevance}, from a BEIR qrels TSV (header line optional)."""
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}", hint="check the path")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not row or (n == 1 and row[0].strip().lower() in ("query-id", "qid", "query_id")):
                continue
            if len(row) < 3:
                raise InvalidRequestError(
                    f"{path.name} line {n} has {len(row)} columns",
                    hint="tab-separated: query-id, corpus-id, score",
                )
            try:
                score = int(float(row[2]))
            except ValueError as exc:
                raise InvalidRequestError(f"{path.name} line {n}: score {row[2]!r}") from exc
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = score
    return qrels


def read_qa_questions(path: Path) -> list[QAQuestion]:
    """Questions with verbatim answers (COVID-QA / SQuAD style, one JSON object per line)."""
    hint = 'each line: {"id", "question", "doc_id", "answers": [{"text": "..."}]}'
    out: list[QAQuestion] = []
    for n, obj in _lines(path):
        answers = _need(obj, "answers", path, n, hint)
        texts = [a["text"] if isinstance(a, dict) else str(a) for a in answers]
        out.append(
            QAQuestion(
                id=str(obj.get("id", n)),
                question=str(_need(obj, "question", path, n, hint)),
                doc_id=str(_need(obj, "doc_id", path, n, hint)),
                answers=[t for t in texts if t],
            )
        )
    return out


def judged_queries(
    queries: dict[str, str], qrels: dict[str, dict[str, int]], limit: int | None = None
) -> dict[str, dict[str, int]]:
    """The judgements of the first ``limit`` judged queries that have a text."""
    ids = [q for q in qrels if q in queries][:limit]
    if not ids:
        raise InvalidRequestError(
            "no query in the qrels has a text in the queries file",
            hint="the first qrels column must match the queries' _id",
        )
    return {q: qrels[q] for q in ids}


def file_digest(*paths: Path) -> str:
    """A short SHA-256 over the bytes of ``paths`` (keys scratch indexes by corpus)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def split_ids(
    ids: list[str], *, holdout: float = 0.5, seed: str = "ragstead"
) -> tuple[list[str], list[str]]:
    """Deterministic (tune, held-out) split of ids by a salted hash, stable across runs."""
    tune: list[str] = []
    held: list[str] = []
    for i in ids:
        h = int(hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held if h < holdout else tune).append(i)
    return tune, held
