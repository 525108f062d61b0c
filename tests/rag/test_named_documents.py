"""Questions that name their document: profiles built at ingestion (periods and names from the
title, file name and first page) and retrieval that prefers the document a question names over
near-identical siblings; real embedder, real Chroma, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.service import build_ingestor
from rag.container import Container
from rag.doc_profile import build_profile, match, periods, question_profile, resolve_latest
from rag.retriever import Retriever
from rag.settings import RetrievalSettings, Settings

QUARTERS = {1: "first", 2: "second", 3: "third"}
GROWTH = {1: "4 percent", 2: "7 percent", 3: "9 percent"}


def transcript(q: int) -> str:
    """A quarterly call transcript; the three differ only in their quarter and one figure."""
    return (
        f"# Acme Corp Q{q} 2023 Earnings Call Transcript\n\n"
        "Operator: Welcome to the Acme Corp earnings call.\n\n"
        "## Prepared remarks\n\n"
        "Chief Executive Officer: Thank you all for joining us today. Demand for our"
        " industrial sensors stayed strong across every region we serve.\n\n"
        f"Cloud services revenue grew {GROWTH[q]} compared with the prior quarter, driven by"
        " new enterprise contracts in Europe and North America.\n\n"
        "We continue to invest in manufacturing capacity and expect margins to hold.\n"
    )


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Container:
    folder = tmp_path_factory.mktemp("calls")
    for q in QUARTERS:
        (folder / f"call-{q}.md").write_text(transcript(q), encoding="utf-8")
    c = Container(Settings(data_dir=tmp_path_factory.mktemp("named")))
    report = build_ingestor(c).ingest(folder)
    assert report.ok, report.failed
    return c


# -- profiles ----------------------------------------------------------------------------------


def test_periods_are_read_in_the_ways_people_write_them() -> None:
    for text in ("Q2 2023", "Q2'23", "2023 Q2", "2Q23", "the second quarter of 2023"):
        assert "2023Q2" in periods(text), text
    assert {"FY2022", "2022"} <= periods("fiscal year 2022 results")
    assert "2022-06" in periods("For the quarterly period ended June 25, 2022")
    assert periods("no period here") == set()


def test_a_profile_holds_the_periods_and_names_of_title_file_name_and_cover() -> None:
    profile = build_profile(
        "2022 Q3 AAPL",
        "2022 Q3 AAPL.pdf",
        "FORM 10-Q\nApple Inc.\nquarterly period ended June 25, 2022",
    )
    assert {"2022Q3", "2022-06", "2022"} <= set(profile["periods"])
    assert {"aapl", "apple"} <= set(profile["names"])


def test_match_scores_the_named_period_and_name() -> None:
    q3 = build_profile("2022 Q3 AAPL", "2022 Q3 AAPL.pdf", "Apple Inc.")
    q1 = build_profile("2023 Q1 AAPL", "2023 Q1 AAPL.pdf", "Apple Inc.")
    other = build_profile("2022 Q3 INTC", "2022 Q3 INTC.pdf", "Intel Corporation")
    asked = question_profile("What were Apple's net sales in the third quarter of 2022?")
    assert match(asked, q3) == 1.0
    assert match(asked, q1) == 0.5 and match(asked, other) == 0.5
    assert match(question_profile("what is the revenue?"), q3) == 0.0


def test_the_latest_period_is_the_newest_among_the_named_documents() -> None:
    profiles = {
        f: build_profile(f, f, cover)
        for f, cover in (
            ("2023 Q1 AAPL", "Apple Inc."),
            ("2023 Q3 AAPL", "Apple Inc."),
            ("2024 Q1 INTC", "Intel Corporation"),
        )
    }
    asked = resolve_latest(question_profile("Apple's gross margin in the latest 10-Q?"), profiles)
    assert asked["periods"] == ["2023Q3"]
    assert {f for f, p in profiles.items() if match(asked, p) == 1.0} == {"2023 Q3 AAPL"}
    named = question_profile("Apple's gross margin in Q1 2023?")
    assert resolve_latest(named, profiles)["periods"] == named["periods"]


# -- retrieval and answers ---------------------------------------------------------------------


def named(q: int) -> list[str]:
    """The same question, naming the quarter in ways the transcripts' words do not."""
    return [
        f"How much did cloud services revenue grow in the {q}Q23 call?",
        f"How much did cloud services revenue grow in the {QUARTERS[q]} quarter of 2023?",
    ]


@pytest.mark.parametrize("q", list(QUARTERS))
def test_a_question_that_names_the_quarter_cites_that_quarters_call(
    container: Container, q: int
) -> None:
    for question in named(q):
        [best, *_] = container.retriever.retrieve(question, top_k=3)
        assert Path(best.chunk.source).name == f"call-{q}.md", question
        answer = container.assistant.ask(question)
        assert answer.citations, answer
        assert Path(answer.citations[0].source).name == f"call-{q}.md", question
        assert GROWTH[q] in answer.answer, answer.answer


def test_without_the_boost_the_siblings_are_confused(container: Container) -> None:
    """Proof that the transcripts need the profile: without it some quarter is missed."""
    plain = Retriever(
        container.embedder,
        container.vector_store,
        container.catalog,
        RetrievalSettings(profile_boost=0.0),
    )
    missed = [
        question
        for q in QUARTERS
        for question in named(q)
        if Path(plain.search(question, 1)[0].chunk.source).name != f"call-{q}.md"
    ]
    assert missed
    # a question that names nothing is ranked exactly as without profiles
    unnamed = "How much did cloud services revenue grow?"
    assert [p.chunk.id for p in container.retriever.search(unnamed, 6)] == [
        p.chunk.id for p in plain.search(unnamed, 6)
    ]


def test_profiles_are_stored_with_the_document(container: Container) -> None:
    docs = {Path(d.source).name: d for d in container.catalog.documents()}
    profiles = container.catalog.profiles([d.doc_id for d in docs.values()])
    assert "2023Q2" in profiles[docs["call-2.md"].doc_id]["periods"]
    assert "2023Q1" not in profiles[docs["call-2.md"].doc_id]["periods"]
    assert "acme" in profiles[docs["call-2.md"].doc_id]["names"]


# -- page-exact citations ----------------------------------------------------------------------

FILLER = [
    "Operations were steady across all plants and the supply chain held up well.",
    "Hiring continued in engineering and sales during the period under review.",
]
PAGES = [
    ["Acme Corp quarterly report.", "Cloud services revenue grew 7 percent in the quarter."],
    FILLER,
    [
        "Segment review.",
        "As noted earlier, cloud services revenue grew 7 percent compared with the prior"
        " quarter, driven by enterprise contracts.",
    ],
]


def make_report(path: Path) -> None:
    """A three-page PDF that states the same fact on pages 1 and 3."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.setFont("Helvetica", 10)
    for lines in PAGES:
        y = 760
        for line in lines:
            for part in (line[i : i + 90] for i in range(0, len(line), 90)):
                pdf.drawString(50, y, part)
                y -= 14
        pdf.showPage()
    pdf.save()


def test_the_cited_page_is_the_page_of_the_cited_sentence_when_a_fact_is_restated(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    make_report(folder / "report.pdf")
    c = Container(Settings(data_dir=tmp_path / "data"))
    assert build_ingestor(c).ingest(folder).ok
    page_text = {n: " ".join(" ".join(lines).split()) for n, lines in enumerate(PAGES, 1)}
    for question, page in (
        ("How much did cloud services revenue grow in the quarter?", 1),
        ("What drove the growth of cloud services revenue compared with the prior quarter?", 3),
    ):
        answer = c.assistant.ask(question)
        [citation] = answer.citations
        quote = " ".join(citation.quote.split())
        # the quote is the sentence stating the fact, and the page is the one that holds it
        assert "grew 7 percent" in quote, (question, quote)
        assert quote[:40] in page_text[page], (question, quote)
        assert citation.page == page, (question, citation.page, quote)


# -- questions that name a company -------------------------------------------------------------

FILINGS = {
    # the same quarter for two companies; the one asked about words its figure differently
    "acme-q2-2023.md": "# Acme Corp quarterly report, Q2 2023\n\n"
    "Acme Corp designs industrial sensors.\n\n"
    "Cloud services revenue grew 4 percent compared with the prior quarter, driven by new"
    " enterprise cloud services contracts.\n",
    "globex-q2-2023.md": "# Globex quarterly report, Q2 2023\n\n"
    "Globex builds logistics software.\n\n"
    "Sales of hosted offerings rose 9 percent over the previous three months, on demand from"
    " retailers.\n",
}


@pytest.fixture(scope="module")
def filings(tmp_path_factory: pytest.TempPathFactory) -> Container:
    folder = tmp_path_factory.mktemp("filings")
    for name, text in FILINGS.items():
        (folder / name).write_text(text, encoding="utf-8")
    c = Container(Settings(data_dir=tmp_path_factory.mktemp("filings-data")))
    report = build_ingestor(c).ingest(folder)
    assert report.ok, report.failed
    return c


def test_a_question_that_names_a_company_is_answered_from_its_document(
    filings: Container,
) -> None:
    question = "How much did Globex's cloud services revenue grow?"
    plain = Retriever(
        filings.embedder, filings.vector_store, filings.catalog, RetrievalSettings(profile_boost=0)
    )
    # proof that the sibling reads better: without profiles its passage comes first
    assert Path(plain.search(question, 1)[0].chunk.source).name == "acme-q2-2023.md"
    passages = filings.retriever.retrieve(question, top_k=3)
    fits = {Path(p.chunk.source).name: p.document_fit for p in passages}
    assert fits["globex-q2-2023.md"] == 1.0 and fits.get("acme-q2-2023.md", 0.0) == 0.0
    answer = filings.assistant.ask(question, mode="extractive")
    assert [Path(c.source).name for c in answer.citations] == ["globex-q2-2023.md"], answer
    assert "9 percent" in answer.answer, answer.answer


def test_a_question_that_names_no_document_carries_no_fit(filings: Container) -> None:
    passages = filings.retriever.retrieve("How much did cloud services revenue grow?", top_k=3)
    assert passages and all(p.document_fit is None for p in passages)
