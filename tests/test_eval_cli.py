"""``ragstead eval retrieval``, ``qa`` and ``answers`` end to end on a tiny BEIR-format set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

TINY = Path(__file__).parent / "fixtures" / "beir-tiny"


def test_eval_retrieval_reports_every_method_and_reuses_its_index(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "eval",
        "retrieval",
        "--corpus",
        str(TINY / "corpus.jsonl"),
        "--queries",
        str(TINY / "queries.jsonl"),
        "--qrels",
        str(TINY / "qrels.tsv"),
        "--index-dir",
        str(tmp_path / "idx"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"dense", "lexical", "hybrid"}
    for row in figures.values():
        assert set(row) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"}
        assert row["queries"] == 4  # q5 has no judgements
    # every query names its document in plain words: each method ranks it first
    assert figures["hybrid"]["ndcg@10"] == 1.0 and figures["hybrid"]["mrr@10"] == 1.0
    assert figures["lexical"]["recall@10"] == 1.0
    report = json.loads((tmp_path / "idx" / "eval-retrieval.json").read_text())
    assert report["results"] == figures and report["chunks"] == 6
    marker = tmp_path / "idx" / "corpus.json"
    stamp = marker.stat().st_mtime_ns
    again = runner.invoke(app, [*args[:-1], "--method", "lexical", "--json"])
    assert again.exit_code == 0, again.output
    assert set(json.loads(again.stdout.strip().splitlines()[-1])) == {"lexical"}
    assert marker.stat().st_mtime_ns == stamp  # reused, not re-indexed


def test_eval_qa_reports_answer_and_document_hits(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "qa",
            "--corpus",
            str(TINY / "corpus.jsonl"),
            "--questions",
            str(TINY / "questions.jsonl"),
            "--index-dir",
            str(tmp_path / "idx"),
            "--report",
            str(tmp_path / "qa.json"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"dense", "lexical", "hybrid"}
    assert figures["hybrid"]["hit@1"] == 1.0 and figures["hybrid"]["doc@5"] == 1.0
    assert figures["hybrid"]["questions"] == 3
    assert json.loads((tmp_path / "qa.json").read_text())["kind"] == "qa"


def test_eval_with_a_missing_file_exits_2_with_a_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "retrieval",
            "--corpus",
            str(tmp_path / "nope.jsonl"),
            "--queries",
            str(TINY / "queries.jsonl"),
            "--qrels",
            str(TINY / "qrels.tsv"),
        ],
    )
    assert result.exit_code == 2
    assert "no such" in result.output


@pytest.mark.slow
def test_retrieval_qa_and_answers_share_one_index_built_once(
    tmp_path: Path, model_cache: Path
) -> None:
    data = tmp_path / "data"
    corpus = ["--corpus", str(TINY / "corpus.jsonl"), "--data-dir", str(data), "--json"]
    runs = {
        "retrieval": ["--queries", str(TINY / "queries.jsonl"), "--qrels", str(TINY / "qrels.tsv")],
        "qa": ["--questions", str(TINY / "questions.jsonl")],
        "answers": ["--questions", str(TINY / "questions.jsonl"), "--mode", "extractive"],
    }
    env = {"RAGSTEAD_MODEL_CACHE_DIR": str(model_cache)}
    indexes = []
    for command, args in runs.items():
        report = tmp_path / f"{command}.json"
        result = CliRunner().invoke(
            app, ["eval", command, *corpus, *args, "--report", str(report)], env=env
        )
        assert result.exit_code == 0, result.output
        indexes.append(json.loads(report.read_text())["index"])
    [index_dir] = (data / "eval").iterdir()
    assert [i["data_dir"] for i in indexes] == [str(index_dir)] * 3
    assert [i["reused"] for i in indexes] == [False, True, True]
    assert [i["builds"] for i in indexes] == [1, 1, 1]
    assert json.loads((index_dir / "corpus.json").read_text())["builds"] == 1
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert answers["figures"]["citation@k"] == 1.0  # the shared index serves answers too
