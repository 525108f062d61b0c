"""The evaluation service: retrieval, QA and answer evaluations over one indexed corpus.

``ragstead eval retrieval|qa|answers`` and the benchmarks call it. It receives the container
over the corpus index (``ingest.corpus.open_corpus_index`` builds or reopens it) and what
opening the index did, and returns each run's figures, its per-question rows and the JSON
report that names the index, the settings and the inputs.

Example::

    index = open_corpus_index(settings, Path("scifact/corpus.jsonl"))
    service = EvaluationService(index.container, index=index.run.as_dict())
    result = service.retrieval(read_queries(queries), read_qrels(qrels))
    result.figures["hybrid"]["ndcg@10"]; result.write(Path("report.json"))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.answer_eval import EvalQuestion, EvalRow, evaluate_one, rows_as_dicts, summarise
from rag.container import Container
from rag.evaluation.datasets import QAQuestion
from rag.evaluation.runner import Progress, evaluate_qa, evaluate_retrieval
from rag.retriever import METHODS, Method

#: (questions answered, questions in all, the figures so far).
AnswerProgress = Callable[[int, int, dict[str, Any]], None]
#: per method, per query id: metric -> value (``runner.summarise`` takes subsets of them).
MethodRows = dict[str, dict[str, dict[str, float]]]


@dataclass
class EvaluationResult:
    """One evaluation: figures, per-question rows and the JSON report."""

    kind: str
    figures: dict[str, Any]
    report: dict[str, Any]
    by_method: MethodRows = field(default_factory=dict)
    answer_rows: list[EvalRow] = field(default_factory=list)

    def write(self, path: Path) -> Path:
        """Write the JSON report to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.report, indent=2) + "\n")
        return path


class EvaluationService:
    """Runs labelled evaluations against one container's index."""

    def __init__(self, container: Container, *, index: Mapping[str, Any] | None = None) -> None:
        self.container = container
        self.index = dict(index or {})

    @property
    def data_dir(self) -> Path:
        """The index's data directory (where reports go by default)."""
        return self.container.settings.data_dir

    def retrieval(
        self,
        queries: Mapping[str, str],
        qrels: Mapping[str, Mapping[str, int]],
        *,
        methods: Sequence[Method] = METHODS,
        progress: Progress | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> EvaluationResult:
        """nDCG@10, recall@10/100, MRR@10 and latency per method over the judged queries."""
        rows: MethodRows = {}
        figures = evaluate_retrieval(
            self.container.retriever,
            queries,
            qrels,
            methods=methods,
            progress=progress,
            per_query=rows,
        )
        return self._ranked("retrieval", figures, rows, inputs)

    def qa(
        self,
        questions: Sequence[QAQuestion],
        *,
        methods: Sequence[Method] = METHODS,
        progress: Progress | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> EvaluationResult:
        """Per method, the share of questions whose verbatim answer (hit@k) and document
        (doc@k) are in the top 1/5/10 passages."""
        rows: MethodRows = {}
        figures = evaluate_qa(
            self.container.retriever, questions, methods=methods, progress=progress, per_query=rows
        )
        return self._ranked("qa", figures, rows, inputs)

    def answers(
        self,
        questions: Sequence[EvalQuestion],
        *,
        mode: str = "auto",
        top_k: int | None = None,
        progress: AnswerProgress | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> EvaluationResult:
        """Answer each question with the assistant; citation@k, F1, grounded share, speed."""
        assistant = self.container.assistant
        resolved = assistant.resolve_mode(mode)
        k = top_k or assistant.config.top_k
        rows: list[EvalRow] = []
        for i, item in enumerate(questions, 1):
            rows.append(evaluate_one(assistant, item, mode=resolved, top_k=k))
            if progress is not None:
                progress(i, len(questions), summarise(rows, top_k=k, mode=resolved))
        given = dict(inputs or {})
        figures = summarise(rows, top_k=k, mode=resolved)
        figures.update(
            {
                "corpus": str(self.index.get("corpus", "")),
                "questions_file": given.get("questions", ""),
                "model": self.container.generator.name if resolved == "generative" else "",
            }
        )
        report = {
            "kind": "answers",
            "figures": figures,
            "index": self.index,
            "rows": rows_as_dicts(rows),
        }
        return EvaluationResult("answers", figures, report, answer_rows=rows)

    def _ranked(
        self,
        kind: str,
        figures: dict[str, dict[str, Any]],
        rows: MethodRows,
        inputs: Mapping[str, str] | None,
    ) -> EvaluationResult:
        settings = self.container.settings
        report = {
            "kind": kind,
            "corpus": str(self.index.get("corpus", "")),
            **(inputs or {}),
            "index_dir": str(settings.data_dir),
            "index": self.index,
            "settings": settings.retrieval.model_dump(mode="json"),
            "chunks": self.container.catalog.chunk_count(),
            "results": figures,
        }
        return EvaluationResult(kind, figures, report, by_method=rows)
