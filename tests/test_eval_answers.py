"""``ragstead eval answers`` on a small corpus of records, and the question-set formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from rag.answer_eval import EvalRow, load_questions, matches_gold, summarise

RECORDS = [
    {
        "_id": "101",
        "title": "Incubation of virus X",
        "text": "Incubation of virus X\n\nThe incubation period of virus X is 5 to 7 days. "
        "Most patients recover within two weeks.",
    },
    {
        "_id": "202",
        "title": "Transmission of virus Y",
        "text": "Transmission of virus Y\n\nVirus Y spreads mainly through contaminated water. "
        "Boiling water prevents infection.",
    },
    {
        "_id": "303",
        "title": "Vaccines for virus Z",
        "text": "Vaccines for virus Z\n\nAn attenuated vaccine against virus Z was licensed in "
        "2019. It protects for about ten years.",
    },
]
QUESTIONS = [
    {
        "id": "q1",
        "question": "What is the incubation period of virus X?",
        "doc_id": "101",
        "answers": [{"text": "5 to 7 days", "answer_start": 0}],
    },
    {
        "id": "q2",
        "question": "How does virus Y spread?",
        "doc_id": "202",
        "answers": [{"text": "through contaminated water", "answer_start": 0}],
    },
]


@pytest.mark.slow
def test_eval_answers_prints_the_figures(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    monkeypatch.setenv("RAGSTEAD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGSTEAD_MODEL_CACHE_DIR", str(model_cache))
    report = tmp_path / "report.json"
    args = [
        "eval", "answers", "--corpus", str(corpus), "--questions", str(questions),
        "--mode", "extractive", "--json", "--report", str(report),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["citation@k"] == 1.0 and figures["contains_gold"] == 1.0
    assert figures["grounded_share"] == 1.0 and figures["mode"] == "extractive"
    for key in ("answer_f1", "ttft_p50_ms", "tokens_per_s"):
        assert figures[key] > 0
    rows = json.loads(report.read_text())["rows"]
    assert [r["cited"][0].rsplit("#", 1)[1] for r in rows] == ["101", "202"]
    assert (tmp_path / "data" / "eval").is_dir()  # the index is kept for the next run
    again = CliRunner().invoke(app, [*args[:-2], "--limit", "1"])
    assert again.exit_code == 0 and json.loads(again.stdout.splitlines()[-1])["questions"] == 1
    assert "3 unchanged" in again.stderr


def test_missing_data_exits_2_with_a_hint(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--corpus", str(tmp_path / "nope"), "--questions", str(tmp_path)],
    )
    assert result.exit_code == 2 and "shared/data" in result.stderr


def test_question_sets_and_gold_matching(tmp_path: Path) -> None:
    sec = tmp_path / "qna.csv"
    sec.write_text(
        "\ufeffQuestion,Source Docs,Question Type,Source Chunk Type,Answer\n"
        'What were Apple\'s net sales?,*AAPL*,Multi-Doc RAG,Table,"$82,959 million"\n'
        "What did Intel say?,*2023 Q3 INTC*,Single-Doc,Text,It said things\n",
        encoding="utf-8",
    )
    [apple, intel] = load_questions(sec)
    assert apple.gold == ["*AAPL*"] and apple.answers == ["$82,959 million"]
    assert matches_gold("/data/sec-10-q/2023 Q1 AAPL.pdf", apple.gold)
    assert not matches_gold("/data/sec-10-q/2023 Q1 MSFT.pdf", apple.gold)
    assert matches_gold("/d/2023 Q3 INTC.pdf", intel.gold)
    assert not matches_gold("/d/2023 Q2 INTC.pdf", intel.gold)
    assert matches_gold("/c/corpus.jsonl#630", ["630"])
    assert not matches_gold("/c/corpus.jsonl#6300", ["630"])
    covid = tmp_path / "q.jsonl"
    covid.write_text("\n".join(json.dumps({**QUESTIONS[0], "id": str(i)}) for i in range(10)))
    assert [q.id for q in load_questions(covid, limit=3)] == ["0", "3", "6"]


def test_summary_figures() -> None:
    def row(cited: bool, f1: float, ttft: float, tokens: int, decode: float) -> EvalRow:
        return EvalRow("i", "q", "a", cited, True, f1, cited, cited, True, ttft, ttft * 2, decode,
                       tokens)  # fmt: skip

    rows = [row(True, 1.0, 100, 11, 1000), row(False, 0.0, 300, 21, 1000)]
    figures = summarise(rows, top_k=5, mode="generative")
    assert figures["citation@k"] == 0.5 and figures["answer_f1"] == 0.5
    assert figures["tokens_per_s"] == 15.0  # 30 tokens after the first ones in 2 s
    assert figures["ttft_p50_ms"] in (100, 300)
