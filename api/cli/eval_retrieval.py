"""``ragstead eval retrieval`` and ``ragstead eval qa``: retrieval figures on labelled data.

The corpus is indexed into a scratch data directory keyed by the corpus file, the embedder and
the chunk budget (``<data dir>/eval/<corpus>-<key>``, or ``--index-dir``) and reused on the next
run, so only the first run pays for embedding.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.common import DataDir, JsonFlag, err, fail, out
from rag.errors import InvalidRequestError, RagsteadError

Corpus = Annotated[Path, typer.Option("--corpus", help="BEIR corpus.jsonl (_id, title, text)")]
IndexDir = Annotated[
    Path | None,
    typer.Option("--index-dir", help="scratch index to build or reuse (default: keyed by corpus)"),
]
Report = Annotated[
    Path | None,
    typer.Option("--report", help="where to write the JSON report (default: index dir)"),
]
Limit = Annotated[int | None, typer.Option("--limit", help="evaluate only the first N queries")]
Neighbors = Annotated[
    int | None, typer.Option("--neighbors", help="override retrieval.neighbors for this run")
]
Methods = Annotated[
    list[str] | None, typer.Option("--method", help="dense, lexical or hybrid (repeatable)")
]


def eval_container(data_dir: Path | None, corpus: Path, index_dir: Path | None) -> Any:
    from rag.container import Container
    from rag.evaluation.datasets import file_digest
    from rag.settings import load_settings

    base = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    if index_dir is None:
        if not corpus.is_file():
            raise InvalidRequestError(f"no such corpus file: {corpus}", hint="check --corpus")
        name = base.embedder.model_dir.name if base.embedder.model_dir else "minilm"
        c = base.chunking
        raw = f"{file_digest(corpus)}:{name}:{c.max_tokens}:{c.min_tokens}"
        if base.embedder.sentence_pooling != "separate":  # sentence vectors of another kind
            raw += f":{base.embedder.sentence_pooling}"
        key = hashlib.sha256(raw.encode()).hexdigest()[:12]
        index_dir = base.data_dir / "eval" / f"{corpus.stem}-{key}"
    settings = base.model_copy(update={"data_dir": index_dir})
    return Container(settings)


def index_corpus(container: Any, corpus: Path, quiet: bool) -> None:
    from ingest.records import open_corpus_index

    started = time.perf_counter()

    def progress(docs: int, chunks: int) -> None:
        if not quiet:
            err.print(f"  indexed {docs} records, {chunks} chunks", highlight=False)

    if not quiet:
        err.print(f"index: {container.settings.data_dir}", highlight=False)
    report = open_corpus_index(container, corpus, progress=progress)
    if report is not None and not quiet:
        err.print(f"indexed in {time.perf_counter() - started:.0f} s", highlight=False)


def _apply(container: Any, neighbors: int | None) -> None:
    if neighbors is not None:
        container.retriever.params.neighbors = neighbors


def _methods(methods: list[str] | None) -> tuple[Any, ...]:
    from rag.retriever import METHODS

    chosen = tuple(methods or METHODS)
    bad = [m for m in chosen if m not in METHODS]
    if bad:
        raise InvalidRequestError(f"unknown method {bad[0]!r}", hint="dense, lexical or hybrid")
    return chosen


def _emit(report: dict[str, Any], figures: dict[str, Any], path: Path, as_json: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    columns = list(next(iter(figures.values())).keys())
    table = Table("method", *columns)
    for method, row in figures.items():
        table.add_row(method, *(str(row[c]) for c in columns))
    out.print(table)
    out.print(f"report: {path}", highlight=False)


def retrieval(
    corpus: Corpus,
    queries: Annotated[Path, typer.Option("--queries", help="BEIR queries.jsonl (_id, text)")],
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR qrels TSV (query, doc, score)")],
    index_dir: IndexDir = None,
    report_path: Report = None,
    limit: Limit = None,
    neighbors: Neighbors = None,
    method: Methods = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """nDCG@10, recall@10/100, MRR@10 and latency for dense, lexical and hybrid search."""
    from rag.evaluation.datasets import read_qrels, read_queries
    from rag.evaluation.runner import evaluate_retrieval

    try:
        methods = _methods(method)
        query_texts = read_queries(queries)
        judged = read_qrels(qrels)
        ids = [q for q in judged if q in query_texts][:limit]
        if not ids:
            raise InvalidRequestError(
                "no query in the qrels has a text in the queries file",
                hint="the first qrels column must match the queries' _id",
            )
        container = eval_container(data_dir, corpus, index_dir)
        index_corpus(container, corpus, as_json)
        _apply(container, neighbors)
        figures = evaluate_retrieval(
            container.retriever, query_texts, {q: judged[q] for q in ids}, methods=methods
        )
    except RagsteadError as exc:
        fail(exc)
    report = {
        "kind": "retrieval",
        "corpus": str(corpus),
        "queries": str(queries),
        "qrels": str(qrels),
        "index_dir": str(container.settings.data_dir),
        "settings": container.settings.retrieval.model_dump(mode="json"),
        "chunks": container.catalog.chunk_count(),
        "results": figures,
    }
    path = report_path or container.settings.data_dir / "eval-retrieval.json"
    _emit(report, figures, path, as_json)


def qa(
    corpus: Corpus,
    questions: Annotated[
        Path, typer.Option("--questions", help="questions.jsonl (question, doc_id, answers)")
    ],
    index_dir: IndexDir = None,
    report_path: Report = None,
    limit: Limit = None,
    neighbors: Neighbors = None,
    method: Methods = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Share of questions whose verbatim answer (and document) is in the top 1/5/10 passages."""
    from rag.evaluation.datasets import read_qa_questions
    from rag.evaluation.runner import evaluate_qa

    try:
        methods = _methods(method)
        items = read_qa_questions(questions)[:limit]
        if not items:
            raise InvalidRequestError(f"no questions in {questions}")
        container = eval_container(data_dir, corpus, index_dir)
        index_corpus(container, corpus, as_json)
        _apply(container, neighbors)
        figures = evaluate_qa(container.retriever, items, methods=methods)
    except RagsteadError as exc:
        fail(exc)
    report = {
        "kind": "qa",
        "corpus": str(corpus),
        "questions": str(questions),
        "index_dir": str(container.settings.data_dir),
        "settings": container.settings.retrieval.model_dump(mode="json"),
        "chunks": container.catalog.chunk_count(),
        "results": figures,
    }
    path = report_path or container.settings.data_dir / "eval-qa.json"
    _emit(report, figures, path, as_json)
