"""Calibrate "covered" (``rag.answerability``) on half of the labelled questions, report the rest.

    python benchmarks/answerability.py [--data ../shared/data] [--covid-every 4] [--limit 120]

Question sets, each question labelled answerable or not over the index it is asked of:

- ``examples``: tests/fixtures/answerability-examples.jsonl over examples/docs: questions written
  against the example documents, answerable and not (on-topic ones such as "What is the dress
  code?" included);
- ``covid``: COVID-QA dev questions over an index of every ``--covid-every``-th article
  (answerable: their article is indexed; unanswerable: their article is not, so the questions
  are on-topic but the index does not hold their answer; a few of those may be answered by
  another article, which makes the refusal recall a lower bound);
- ``cross``: the example questions over the COVID-QA index and COVID-QA questions over the
  example documents (off-topic, unanswerable).

Every question's features are computed once (retrieval with the default settings, top 10); the
weights and threshold are chosen on the questions with an even hash ("calibrate") to refuse as
many unanswerable questions as possible while keeping ``--keep`` of the answerable ones, and
reported on the others ("held out"), beside the single cosine threshold of before. Prints the
figures and writes ``benchmarks/results/answerability.json``. Indexes are built once under
``--index-dir`` (default ``.ragstead/eval-answerability``).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import DEFAULT_DATA, require, write  # noqa: E402
from rag.answerability import (  # noqa: E402
    AnswerabilityParams,
    Evidence,
    absent_names,
    evidence_of,
    features_of,
)
from rag.extractive import candidates  # noqa: E402
from rag.questions import profile_question  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "answerability-examples.jsonl"


def container_for(index_dir: Path, corpus: Path) -> Any:
    """A container over ``corpus`` (a .jsonl of records or a folder), indexed under index_dir."""
    from ingest.corpus import open_corpus_index
    from rag.settings import load_settings

    return open_corpus_index(load_settings(), corpus, index_dir=index_dir).container


def covid_subset(data: Path, out: Path, every: int) -> tuple[Path, set[str], list[dict[str, Any]]]:
    """Every ``every``-th COVID-QA article written to ``out`` (outside the repository), its ids,
    and all dev questions."""
    docs = [json.loads(line) for line in (data / "covidqa" / "corpus.jsonl").open()]
    ids = set(sorted(d["_id"] for d in docs)[::every])
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        with out.open("w") as fh:
            for d in docs:
                if d["_id"] in ids:
                    fh.write(json.dumps(d) + "\n")
    questions = [json.loads(line) for line in (data / "covidqa" / "questions-dev.jsonl").open()]
    return out, ids, questions


def spread(items: list[Any], limit: int) -> list[Any]:
    """``limit`` items spread evenly over ``items``."""
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def measure(container: Any, question: str) -> dict[str, Any]:
    """The relevance and the candidate sentences' evidence for ``question`` over the index."""
    assistant = container.assistant
    passages = container.retriever.retrieve(question, top_k=assistant.config.top_k)
    relevance = assistant.relevance(question, passages)
    profile = profile_question(question)
    found = candidates(question, passages, assistant.vectors, 5, profile)
    evidence = evidence_of(found, [p.chunk.doc_id for p in passages])
    return {
        "relevance": round(relevance, 4),
        "absent_names": absent_names(profile, passages),
        "evidence": [
            [round(e.similarity, 4), round(e.coverage, 4), e.type_strength, e.document]
            for e in evidence
        ],
    }


def score_of(row: dict[str, Any], p: AnswerabilityParams) -> float:
    """The answerability score of a measured question under ``p``."""
    evidence = [Evidence(*e) for e in row["evidence"]]
    features, _ = features_of(evidence, row["relevance"], p)
    return features.score(p)


def half(key: str) -> str:
    """'calibrate' or 'held_out', by a stable hash of the question's id."""
    return "calibrate" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "held_out"


def decide(row: dict[str, Any], p: AnswerabilityParams, score: float | None = None) -> bool:
    """Covered under ``p``."""
    if score is None:
        score = score_of(row, p)
    if p.refuse_absent_names and row["absent_names"]:
        return False
    return row["relevance"] >= p.min_relevance and bool(row["evidence"]) and score >= p.threshold


def rates(rows: list[dict[str, Any]], p: AnswerabilityParams) -> dict[str, Any]:
    """Refusal precision and recall (refusing is the positive class), answerable kept."""
    refused = [not decide(r, p) for r in rows]
    unanswerable = [not r["answerable"] for r in rows]
    tp = sum(a and b for a, b in zip(refused, unanswerable, strict=True))
    n_refused, n_unans = sum(refused), sum(unanswerable)
    n_ans = len(rows) - n_unans
    kept = sum((not a) and (not b) for a, b in zip(refused, unanswerable, strict=True))
    return {
        "questions": len(rows),
        "unanswerable": n_unans,
        "refusal_precision": round(tp / n_refused, 3) if n_refused else None,
        "refusal_recall": round(tp / n_unans, 3) if n_unans else None,
        "answerable_kept": round(kept / n_ans, 3) if n_ans else None,
    }


def calibrate(rows: list[dict[str, Any]], keep: float, floor: float) -> AnswerabilityParams:
    """The weights, threshold and names rule refusing the most unanswerable questions of
    ``rows`` while keeping at least ``keep`` of the answerable ones that clear the relevance
    floor (fewer non-zero weights win ties)."""
    best: tuple[float, int, AnswerabilityParams] | None = None
    for cw, tw, mw, rw, names in itertools.product(
        (0.0, 0.25, 0.5, 0.75, 1.0),
        (0.0, 0.1, 0.2, 0.3),
        (0.0, 0.25, 0.5),
        (0.0, 0.5, 1.0),
        (False, True),
    ):
        p = AnswerabilityParams(floor, 1.0, cw, tw, mw, rw, 0.0, names)
        scores = [score_of(r, p) for r in rows]
        # answerable questions past the floor; those the names rule refuses count as lost
        pos = sorted(
            -1e9 if names and r["absent_names"] else s
            for r, s in zip(rows, scores, strict=True)
            if r["answerable"] and r["relevance"] >= floor
        )
        if not pos:
            continue
        p.threshold = round(pos[int((1 - keep) * len(pos))] - 1e-4, 4)
        if p.threshold < -1e8:
            continue  # the names rule alone loses more than allowed
        refused = sum(
            1
            for r, s in zip(rows, scores, strict=True)
            if not r["answerable"] and not decide(r, p, s)
        )
        simple = -sum(w > 0 for w in (cw, tw, mw, rw, names))
        if best is None or (refused, simple) > (best[0], best[1]):
            best = (refused, simple, p)
    assert best is not None
    return best[2]


def main() -> None:
    """Compute the features, calibrate, report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-dir", type=Path, default=ROOT / ".ragstead" / "eval-answerability")
    ap.add_argument("--covid-every", type=int, default=4, help="index every N-th article")
    ap.add_argument("--limit", type=int, default=120, help="COVID-QA questions per label")
    ap.add_argument("--keep", type=float, default=0.99, help="answerable share to keep")
    ap.add_argument(
        "--measured", type=Path, help="reuse (or write) the measured evidence in this JSON file"
    )
    args = ap.parse_args()
    require(args.data / "covidqa" / "corpus.jsonl", "COVID-QA")
    started = time.perf_counter()
    if args.measured and args.measured.exists():
        rows = json.loads(args.measured.read_text())
    else:
        rows = measure_all(args)
        if args.measured:
            args.measured.write_text(json.dumps(rows))
    report_on(rows, args, started)


def measure_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Index (once) and measure every question of the three sets."""
    corpus, ids, covid_questions = covid_subset(
        args.data, args.index_dir / f"covid-every{args.covid_every}.jsonl", args.covid_every
    )
    covid = container_for(args.index_dir / f"covid-every{args.covid_every}", corpus)
    examples = container_for(args.index_dir / "examples", ROOT / "examples" / "docs")
    own = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    inside = spread([q for q in covid_questions if q["doc_id"] in ids], args.limit)
    outside = spread([q for q in covid_questions if q["doc_id"] not in ids], args.limit)
    jobs: list[tuple[str, Any, str, str, bool]] = []
    jobs += [("examples", examples, q["id"], q["question"], q["answerable"]) for q in own]
    jobs += [("covid", covid, q["id"], q["question"], True) for q in inside]
    jobs += [("covid", covid, q["id"], q["question"], False) for q in outside]
    jobs += [("cross", covid, "x" + q["id"], q["question"], False) for q in own if q["answerable"]]
    jobs += [("cross", examples, "x" + q["id"], q["question"], False) for q in inside[:40]]
    rows = []
    for i, (name, container, qid, question, answerable) in enumerate(jobs, 1):
        rows.append(
            {
                "set": name,
                "id": qid,
                "question": question,
                "answerable": answerable,
                "half": half(f"{name}:{qid}"),
                **measure(container, question),
            }
        )
        if i % 50 == 0:
            print(f"{i}/{len(jobs)} questions measured", file=sys.stderr)
    return rows


def report_on(rows: list[dict[str, Any]], args: argparse.Namespace, started: float) -> None:
    """Calibrate on one half, report both halves, print and write the JSON."""
    floor = AnswerabilityParams().min_relevance
    tune = [r for r in rows if r["half"] == "calibrate"]
    held = [r for r in rows if r["half"] == "held_out"]
    params = calibrate(tune, args.keep, floor)
    cosine_only = AnswerabilityParams(floor, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, False)
    shipped = AnswerabilityParams()
    with_names = replace(params, refuse_absent_names=True)
    report: dict[str, Any] = {"calibrated": asdict(params), "shipped": asdict(shipped)}
    for label, p in (
        ("cosine_only", cosine_only),
        ("calibrated", params),
        ("calibrated_with_names_rule", with_names),
        ("shipped", shipped),
    ):
        report[label + "_held_out"] = {
            "all": rates(held, p),
            **{
                s: rates([r for r in held if r["set"] == s], p)
                for s in ("examples", "covid", "cross")
            },
        }
        report[label + "_calibrate"] = rates(tune, p)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["setup"] = {
        "covid_every": args.covid_every,
        "limit": args.limit,
        "keep": args.keep,
    }
    report["rows"] = [{k: v for k, v in r.items() if k != "evidence"} for r in rows]
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1))
    print(f"wrote {write('answerability', report)}", file=sys.stderr)


if __name__ == "__main__":
    main()
