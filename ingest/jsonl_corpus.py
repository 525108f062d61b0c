"""Index a JSON-lines corpus of records (``{"_id", "title", "text"}``, the BEIR layout).

Evaluation sets such as COVID-QA and SciFact ship their documents as records rather than files.
Each record becomes one document whose source is ``<corpus path>#<_id>``; its text is cut into
paragraphs at blank lines and chunked like any other document. A record whose text has not
changed since it was indexed is skipped.

Example::

    report = index_jsonl_corpus(build_ingestor(container), Path("covidqa/corpus.jsonl"))
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from ingest.elements import Element, ParsedDocument
from ingest.pipeline import Ingestor, IngestReport, doc_id_for
from rag.errors import IngestError, NotFoundError
from rag.stores.catalog import DocumentRecord

_PARAGRAPH = re.compile(r"\n\s*\n")


def record_source(corpus: Path, record_id: str) -> str:
    """The source name a record is indexed under: ``<corpus path>#<_id>``."""
    return f"{corpus}#{record_id}"


def record_document(record: dict[str, object]) -> ParsedDocument:
    """A record as a parsed document: one text element per paragraph."""
    title = str(record.get("title") or "").strip()
    text = str(record.get("text") or "")
    paragraphs = [" ".join(p.split()) for p in _PARAGRAPH.split(text)]
    elements = [Element(p) for p in paragraphs if p and p != title]
    return ParsedDocument(elements=elements, title=title or None)


def index_jsonl_corpus(
    ingestor: Ingestor, corpus: Path, *, limit: int | None = None
) -> IngestReport:
    """Index every record of ``corpus`` (new and changed ones); returns what was done."""
    started = time.perf_counter()
    corpus = corpus.expanduser().resolve()
    if not corpus.is_file():
        raise NotFoundError(f"no corpus file at {corpus}", hint="give a .jsonl file of records")
    report = IngestReport()
    with corpus.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record_id = str(record["_id"])
            except (ValueError, KeyError, TypeError) as exc:
                report.failed.append((f"{corpus}:{n + 1}", f"not a corpus record: {exc}"))
                continue
            source = record_source(corpus, record_id)
            digest = hashlib.sha256(line.encode("utf-8")).hexdigest()
            known = ingestor.catalog.find_by_source(source)
            if known is not None and known.content_hash == digest:
                report.unchanged.append(source)
                continue
            base = DocumentRecord(
                doc_id=doc_id_for(source), source=source, content_hash=digest, doc_type="record"
            )
            try:
                report.chunks += ingestor.index_document(base, record_document(record))
            except IngestError as exc:
                report.failed.append((source, str(exc)))
                continue
            (report.updated if known else report.added).append(source)
    report.seconds = time.perf_counter() - started
    return report
