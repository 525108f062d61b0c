"""Every format through the whole pipeline with the real embedder, tokenizer and Chroma: what
lands in the index carries the right text, pages, slides, sheets and section paths."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.types import Chunk
from tests.ingest.test_parsers import make_docx, make_pdf, make_pptx
from tests.ingest.test_sync import assert_consistent


def _xlsx(path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    rates = workbook.active
    rates.title = "Rates"
    rates.append(["City", "Per diem", "Hotel cap", "Notes"])
    for i in range(120):  # long enough to need several chunks
        rates.append([f"City {i}", f"{40 + i} EUR", f"{100 + i} EUR", "breakfast included"])
    contacts = workbook.create_sheet("Contacts")
    contacts.append(["Team", "Email"])
    contacts.append(["Travel desk", "travel@northwind.example"])
    workbook.save(path)


def _mail(subject: str, body: str, attachment: tuple[str, bytes] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "people@northwind.example"
    message["To"] = "staff@northwind.example"
    message["Date"] = "Wed, 15 Jan 2025 09:00:00 +0100"
    message.set_content(body)
    if attachment:
        name, data = attachment
        message.add_attachment(data, maintype="text", subtype="plain", filename=name)
    return message


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, example_container: Container
) -> tuple[Container, Path]:
    folder = tmp_path_factory.mktemp("formats")
    make_pdf(folder / "travel.pdf")
    make_docx(folder / "expenses.docx")
    make_pptx(folder / "results.pptx")
    _xlsx(folder / "rates.xlsx")
    (folder / "prices.csv").write_text("Product;Price\nStarter;49\nPro;119\n")
    (folder / "canteen.html").write_text(
        "<html><body><nav>Home</nav><div class='breadcrumbs'>Home › Canteen</div>"
        "<main><h1>Canteen</h1><h2>Opening hours</h2><p>Lunch is served 12:00 to 14:00.</p>"
        "</main><footer>© Northwind</footer></body></html>"
    )
    (folder / "leave.md").write_text(
        "# Leave\n\n## Carry-over\n\nUp to 5 days carry over until 31 March.\n"
    )
    (folder / "kantine.txt").write_bytes(
        "Größe der Portionen: groß. Café für 2 €.".encode("cp1252")
    )
    (folder / "rota.eml").write_bytes(
        _mail("Canteen rota", "The rota is attached.", ("rota.txt", b"Monday: Ana.")).as_bytes()
    )
    box = mailbox.mbox(str(folder / "archive.mbox"))
    box.add(_mail("First notice", "Fire drill on Friday."))
    box.add(_mail("Second notice", "The lift is repaired."))
    box.close()
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), ingest=IngestSettings(workers=1))
    # the real, already loaded model
    container = Container(settings, embedder=example_container.embedder)
    report = build_ingestor(container).ingest(folder)
    assert report.ok, report.failed
    return container, folder.resolve()


def chunks(container: Container, source: Path | str) -> list[Chunk]:
    record = container.catalog.find_by_source(str(source))
    assert record is not None, source
    return container.catalog.chunks_of(record.doc_id)


def test_pdf_chunks_carry_pages_and_sections(indexed: tuple[Container, Path]) -> None:
    container, folder = indexed
    found = chunks(container, folder / "travel.pdf")
    for word, page in (("Alpha", 1), ("Bravo", 2), ("Charlie", 3)):
        chunk = next(c for c in found if word in c.text)
        assert chunk.page is not None and chunk.page_end is not None
        assert chunk.page <= page <= chunk.page_end <= chunk.page + 1
    by_word = {w: next(c for c in found if w in c.text) for w in ("Alpha", "Bravo")}
    assert by_word["Alpha"].page == by_word["Alpha"].page_end == 1
    assert by_word["Bravo"].section == "Travel Policy > 2.1 Booking Rules"
    assert by_word["Alpha"].title == "Travel Policy"
    table = next(c for c in found if "table" in c.kinds.split(","))
    assert "City | Rate | Currency\nParis | 53 | EUR" in table.text and table.page_end == 3


def test_docx_headings_become_the_section_path(indexed: tuple[Container, Path]) -> None:
    container, folder = indexed
    found = chunks(container, folder / "expenses.docx")
    receipts = next(c for c in found if "25 EUR" in c.text)
    # a section this small shares its chunk with its neighbours, headings kept in the text
    assert receipts.section.startswith("Expenses Policy")
    path = [receipts.section, *receipts.text.split("\n")]
    assert path.index("Receipts") < path.index("Receipts above 25 EUR are required.")
    assert any("City | Rate\nParis | 53" in c.text for c in found)


def test_pptx_slides_are_pages_and_notes_are_indexed(indexed: tuple[Container, Path]) -> None:
    container, folder = indexed
    found = chunks(container, folder / "results.pptx")
    notes = next(c for c in found if "Leipzig office" in c.text)
    assert notes.page == 1 and "notes" in notes.kinds
    assert next(c for c in found if "EMEA | 40" in c.text).page == 2


def test_spreadsheet_chunks_hold_whole_rows_under_their_header(
    indexed: tuple[Container, Path],
) -> None:
    container, folder = indexed
    found = chunks(container, folder / "rates.xlsx")
    rates = [c for c in found if c.section == "Rates"]
    assert len(rates) > 1
    rows: list[str] = []
    for c in rates:
        lines = c.text.split("\n")
        assert lines[0] == "City | Per diem | Hotel cap | Notes"
        assert all(line.count(" | ") == 3 for line in lines)  # never a row cut in two
        rows += lines[1:]
    assert rows == [
        f"City {i} | {40 + i} EUR | {100 + i} EUR | breakfast included" for i in range(120)
    ]
    assert [c.section for c in found if "travel@" in c.text] == ["Contacts"]
    csv = chunks(container, folder / "prices.csv")
    assert [c.text for c in csv] == ["Product | Price\nStarter | 49\nPro | 119"]


def test_html_markdown_and_text(indexed: tuple[Container, Path]) -> None:
    container, folder = indexed
    [html] = chunks(container, folder / "canteen.html")
    assert html.section == "Canteen > Opening hours"
    assert html.text == "Lunch is served 12:00 to 14:00."  # no nav, breadcrumb or footer
    [md] = chunks(container, folder / "leave.md")
    assert (md.section, md.text) == (
        "Leave > Carry-over",
        "Up to 5 days carry over until 31 March.",
    )
    [txt] = chunks(container, folder / "kantine.txt")
    assert txt.text == "Größe der Portionen: groß. Café für 2 €."


def test_mail_and_mbox_children_are_linked(indexed: tuple[Container, Path]) -> None:
    container, folder = indexed
    mail = container.catalog.find_by_source(str(folder / "rota.eml"))
    assert mail is not None and mail.title == "Canteen rota"
    assert mail.metadata["date"] == "Wed, 15 Jan 2025 09:00:00 +0100"
    [attachment] = container.catalog.children_of(mail.doc_id)
    assert [c.text for c in chunks(container, attachment.source)] == ["Monday: Ana."]
    archive = container.catalog.find_by_source(str(folder / "archive.mbox"))
    assert archive is not None
    titles = sorted(d.title for d in container.catalog.children_of(archive.doc_id))
    assert titles == ["First notice", "Second notice"]


def test_no_chunk_exceeds_the_embedder_window(indexed: tuple[Container, Path]) -> None:
    container, _ = indexed
    embedder = container.embedder
    every = [
        c for d in container.catalog.documents() for c in container.catalog.chunks_of(d.doc_id)
    ]
    assert len(every) > 10
    assert all(embedder.count_tokens(c.embed_text()) <= 200 for c in every)
    assert_consistent(container)
