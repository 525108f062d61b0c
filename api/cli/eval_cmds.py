"""``ragstead eval retrieval|qa|answers``: figures on labelled data, over one corpus index.

Each command opens the corpus index (``ingest.corpus``: built once under
``<data dir>/eval/<corpus>-<key>``, or ``--index-dir``, and reused by every command) and calls
the evaluation service (``rag.evaluation.service``); this module parses and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from api.cli.common import DataDir, JsonFlag, err, fail, out
from rag.errors import InvalidRequestError, NotFoundError, RagsteadError

if TYPE_CHECKING:
    from rag.evaluation.service import EvaluationResult, EvaluationService

eval_app = typer.Typer(
    help="Measure retrieval and answer quality on labelled data.", no_args_is_help=True
)

Corpus = Annotated[
    Path, typer.Option("--corpus", help="records .jsonl (_id, title, text), or a folder of files")
]
IndexDir = Annotated[
    Path | None,
    typer.Option("--index-dir", help="index to build or reuse (default: keyed by the corpus)"),
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


def _require(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            raise NotFoundError(
                f"no such file or folder: {path}",
                hint="the evaluation sets live in ../shared/data (see its README)",
            )


def _service(
    corpus: Path, index_dir: Path | None, data_dir: Path | None, neighbors: int | None = None
) -> EvaluationService:
    """The evaluation service over the corpus index (built or brought up to date now)."""
    from ingest.corpus import open_corpus_index
    from rag.evaluation.service import EvaluationService
    from rag.settings import load_settings

    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    if neighbors is not None:
        overrides["retrieval"] = {"neighbors": neighbors}
    index = open_corpus_index(
        load_settings(**overrides),
        corpus,
        index_dir=index_dir,
        progress=lambda run: err.print(f"  {run.written} chunks written", highlight=False),
    )
    err.print(index.run.summary(), highlight=False)
    return EvaluationService(index.container, index=index.run.as_dict())


def _methods(methods: list[str] | None) -> tuple[Any, ...]:
    from rag.retriever import METHODS

    chosen = tuple(methods or METHODS)
    bad = [m for m in chosen if m not in METHODS]
    if bad:
        raise InvalidRequestError(f"unknown method {bad[0]!r}", hint="dense, lexical or hybrid")
    return chosen


def _emit(result: EvaluationResult, path: Path, as_json: bool) -> None:
    result.write(path)
    if as_json:
        sys.stdout.write(json.dumps(result.figures) + "\n")
        return
    columns = list(next(iter(result.figures.values())).keys())
    table = Table("method", *columns)
    for method, row in result.figures.items():
        table.add_row(method, *(str(row[c]) for c in columns))
    out.print(table)
    out.print(f"report: {path}", highlight=False)


@eval_app.command("retrieval")
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
    from rag.evaluation.datasets import judged_queries, read_qrels, read_queries

    try:
        methods = _methods(method)
        _require(corpus, queries, qrels)
        texts = read_queries(queries)
        judged = judged_queries(texts, read_qrels(qrels), limit)
        service = _service(corpus, index_dir, data_dir, neighbors)
        result = service.retrieval(
            texts, judged, methods=methods, inputs={"queries": str(queries), "qrels": str(qrels)}
        )
    except RagsteadError as exc:
        fail(exc)
    _emit(result, report_path or service.data_dir / "eval-retrieval.json", as_json)


@eval_app.command("qa")
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

    try:
        methods = _methods(method)
        _require(corpus, questions)
        items = read_qa_questions(questions)[:limit]
        if not items:
            raise InvalidRequestError(f"no questions in {questions}")
        service = _service(corpus, index_dir, data_dir, neighbors)
        result = service.qa(items, methods=methods, inputs={"questions": str(questions)})
    except RagsteadError as exc:
        fail(exc)
    _emit(result, report_path or service.data_dir / "eval-qa.json", as_json)


@eval_app.command("answers")
def answers(
    corpus: Corpus,
    questions: Annotated[
        Path, typer.Option("--questions", help="questions .jsonl (COVID-QA layout) or .csv")
    ],
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="generative, extractive or auto")
    ] = "auto",
    limit: Annotated[
        int | None, typer.Option("--limit", help="answer N questions spread over the set")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", "-k", help="passages per answer (default 10)")
    ] = None,
    index_dir: IndexDir = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write figures and per-question rows here")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer labelled questions over a corpus; print citation@k, F1, grounded share, speed."""
    from rag.answer_eval import load_questions

    def progress(done: int, total: int, figures: dict[str, Any]) -> None:
        if done % 10 == 0 or done == total:
            err.print(
                f"{done}/{total}: citation@k {figures['citation@k']}, "
                f"grounded {figures['grounded_share']}, ttft p50 {figures['ttft_p50_ms']} ms",
                highlight=False,
            )

    try:
        _require(corpus, questions)
        items = load_questions(questions, limit=limit)
        service = _service(corpus, index_dir, data_dir)
        result = service.answers(
            items, mode=mode, top_k=top_k, progress=progress, inputs={"questions": str(questions)}
        )
    except RagsteadError as exc:
        fail(exc)
    if report is not None:
        result.write(report)
    if as_json:
        sys.stdout.write(json.dumps(result.figures) + "\n")
        return
    figures = result.figures
    table = Table(
        "figure", "value", title=f"answers ({figures['mode']}, {figures['questions']} questions)"
    )
    for key, value in figures.items():
        table.add_row(key, str(value))
    out.print(table)
