"""``ragstead eval answers``: index a corpus, answer labelled questions, print the figures.

The corpus is indexed once into its own data directory (``<data dir>/eval/<corpus>-<hash>``, or
``--index-dir``) and reused: a JSON-lines file of records (``{"_id", "title", "text"}``, e.g.
COVID-QA's corpus.jsonl) or a folder of files (e.g. the SEC 10-Q PDFs).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.common import err, fail, out
from api.cli.eval_cmds import eval_app
from rag.errors import RagsteadError


def eval_index_dir(base_data_dir: Path, corpus: Path) -> Path:
    """Where the index of ``corpus`` lives: one folder per corpus path."""
    digest = hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:8]
    return base_data_dir / "eval" / f"{corpus.stem}-{digest}"


def eval_container(corpus: Path, index_dir: Path | None) -> Any:
    """A container over the corpus index (built or brought up to date now)."""
    from ingest.jsonl_corpus import index_jsonl_corpus
    from ingest.service import build_ingestor
    from rag.container import Container
    from rag.settings import load_settings

    base = load_settings()
    data_dir = index_dir or eval_index_dir(base.data_dir, corpus)
    settings = base.model_copy(update={"data_dir": data_dir, "model_cache_dir": base.models_dir})
    container = Container(settings)
    ingestor = build_ingestor(container)
    err.print(f"indexing {corpus} into {data_dir} (unchanged documents are skipped)")
    if corpus.is_file() and corpus.suffix.lower() == ".jsonl":
        report = index_jsonl_corpus(ingestor, corpus)
    else:
        report = ingestor.ingest(corpus)
    err.print(
        f"indexed: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.failed)} failed "
        f"({report.seconds:.0f} s)"
    )
    return container


@eval_app.command("answers")
def eval_answers(
    corpus: Annotated[Path, typer.Option("--corpus", help="records .jsonl, or files")],
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
    index_dir: Annotated[
        Path | None, typer.Option("--index-dir", help="where the corpus index lives")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write figures and per-question rows here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Answer labelled questions over a corpus; print citation@k, F1, grounded share, speed."""
    from rag.answer_eval import evaluate_one, load_questions, rows_as_dicts, summarise

    for path, what in ((corpus, "corpus"), (questions, "questions")):
        if not path.exists():
            err.print(f"[red]error:[/red] no {what} at {path}", highlight=False)
            err.print("hint: the evaluation sets live in ../shared/data (see its README)")
            raise typer.Exit(2)
    try:
        items = load_questions(questions, limit=limit)
        container = eval_container(corpus, index_dir)
        assistant = container.assistant
        resolved = assistant.resolve_mode(mode)
        top_k = top_k or assistant.config.top_k
        rows = []
        for i, item in enumerate(items, 1):
            rows.append(evaluate_one(assistant, item, mode=resolved, top_k=top_k))
            if i % 10 == 0 or i == len(items):
                done = summarise(rows, top_k=top_k, mode=resolved)
                err.print(
                    f"{i}/{len(items)}: citation@k {done['citation@k']}, "
                    f"grounded {done['grounded_share']}, ttft p50 {done['ttft_p50_ms']} ms",
                    highlight=False,
                )
    except RagsteadError as exc:
        fail(exc)
    figures = summarise(rows, top_k=top_k, mode=resolved)
    figures.update(
        {
            "corpus": str(corpus),
            "questions_file": str(questions),
            "model": container.generator.name if resolved == "generative" else "",
        }
    )
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps({"figures": figures, "rows": rows_as_dicts(rows)}, indent=1))
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    table = Table("figure", "value", title=f"answers ({resolved}, {len(rows)} questions)")
    for key, value in figures.items():
        table.add_row(key, str(value))
    out.print(table)
