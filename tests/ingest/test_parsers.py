"""Parsers: real files of every format, built in tmp_path, through the public ``parse``."""

from __future__ import annotations

import datetime as dt
import io
import mailbox
import shutil
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from benchmarks.hostile_corpus import understate
from ingest.elements import Element, ParsedDocument
from ingest.parsers import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, _common, is_supported, parse
from ingest.parsers.spreadsheet import ROWS_PER_ELEMENT
from rag.errors import ParseError, UnsupportedFormatError


def texts(doc: ParsedDocument, kind: str | None = None) -> list[str]:
    return [e.text for e in doc.elements if kind is None or e.kind == kind]


def only(doc: ParsedDocument, predicate: Callable[[Element], bool]) -> Element:
    found = [e for e in doc.elements if predicate(e)]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------
# dispatch, unsupported formats, bad inputs
# ---------------------------------------------------------------------------------------------


def test_supported_suffixes_are_dispatched_case_insensitively(tmp_path: Path) -> None:
    assert {".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".md", ".txt", ".eml"} <= (
        SUPPORTED_SUFFIXES
    )
    assert is_supported(Path("REPORT.PDF")) and is_supported("notes.Md")
    assert not is_supported("old.doc") and not is_supported("README")
    path = tmp_path / "NOTES.TXT"
    path.write_text("Upper-case suffixes work too.", encoding="utf-8")
    assert texts(parse(path)) == ["Upper-case suffixes work too."]


@pytest.mark.parametrize(
    ("suffix", "target"),
    [
        (".doc", "docx"),
        (".rtf", "docx"),
        (".odt", "docx"),
        (".pages", "docx"),
        (".xls", "xlsx"),
        (".ods", "xlsx"),
        (".ppt", "pptx"),
        (".odp", "pptx"),
    ],
)
def test_legacy_formats_say_what_to_convert_to(tmp_path: Path, suffix: str, target: str) -> None:
    path = tmp_path / f"old{suffix}"
    path.write_bytes(b"\xd0\xcf\x11\xe0 legacy bytes")
    with pytest.raises(UnsupportedFormatError) as caught:
        parse(path)
    assert caught.value.message == f"unsupported format {suffix}"
    assert caught.value.hint is not None
    assert f"libreoffice --headless --convert-to {target} FILE" in caught.value.hint


def test_unknown_format_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "data.xyz"
    path.write_text("something")
    with pytest.raises(UnsupportedFormatError, match=r"unsupported format \.xyz") as caught:
        parse(path)
    assert caught.value.hint is not None and ".docx" in caught.value.hint


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".csv", ".pdf", ".docx", ".eml"])
def test_empty_file_is_a_parse_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match="empty file"):
        parse(path)


def test_size_limit_is_enforced_and_named(tmp_path: Path) -> None:
    assert MAX_FILE_BYTES == 100_000_000
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(150_000_000)  # sparse: nothing is written, the size is what counts
    with pytest.raises(ParseError, match="file is 150 MB, over the 100 MB limit"):
        parse(huge)
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(ParseError, match="file is 5,000 bytes, over the 1,000 bytes limit"):
        parse(path, max_bytes=1000)
    assert texts(parse(path, max_bytes=10_000))  # under the limit it parses


def test_missing_file_and_directory_are_parse_errors(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not a file"):
        parse(tmp_path / "missing.txt")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(ParseError):
        parse(folder)


# ---------------------------------------------------------------------------------------------
# plain text and encodings
# ---------------------------------------------------------------------------------------------

WESTERN = "Café crème brûlée – “naïve” façade, 5 € each.\nStraße, Größe, Ærø."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"])
def test_text_encodings_decode_exactly(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "note.txt"
    text = WESTERN if encoding != "utf-16-be" else "\ufeff" + WESTERN  # BE with its BOM
    path.write_bytes(text.encode(encoding))
    assert texts(parse(path)) == [WESTERN]


@pytest.mark.parametrize(
    "text",
    [
        "Straße Müller Größe, garçon. Zoë ist in Düsseldorf.",
        "Résumé: naïve",  # too short for charset detection to recognise a language
        "Total: 5€ — “ok”",
    ],
)
def test_unlabelled_western_single_byte_text(tmp_path: Path, text: str) -> None:
    encoding = "latin-1" if "€" not in text and "“" not in text else "cp1252"
    path = tmp_path / "note.log"
    path.write_bytes(text.encode(encoding))
    assert texts(parse(path)) == [text]


def test_text_paragraphs_and_normalisation(tmp_path: Path) -> None:
    path = tmp_path / "readme.rst"
    path.write_text(
        "First   paragraph\x07 line one\nline\ttwo\n\n  \n\nSecond\x00 paragraph.\n\n\n",
        encoding="utf-8",
    )
    assert texts(parse(path)) == ["First paragraph line one\nline two", "Second paragraph."]


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

MARKDOWN = """---
title: "Leave Policy 2025"
owner: HR
---

Intro with **bold** and a [link](https://example.invalid/x).

# Annual leave

Full-time staff get 28 days.

Carry-over
----------

- Up to 5 days
- Must be taken by 31 March

```python
# not a heading
def days(x):

    return x * 2
```

| Occasion | Paid days |
|----------|----------:|
| Wedding  | 2 |
| Moving   | 1 |

## Sick leave

Call your lead by 9:00.
"""


def test_markdown_structure(tmp_path: Path) -> None:
    path = tmp_path / "leave.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = parse(path)
    assert doc.title == "Leave Policy 2025"
    assert texts(doc, "heading") == ["Annual leave", "Carry-over", "Sick leave"]
    assert texts(doc)[0] == "Intro with bold and a link."
    assert only(doc, lambda e: "28 days" in e.text).section == ("Annual leave",)
    items = [e for e in doc.elements if e.kind == "list"]
    assert [e.text for e in items] == ["Up to 5 days", "Must be taken by 31 March"]
    assert all(e.section == ("Annual leave", "Carry-over") for e in items)
    code = only(doc, lambda e: e.kind == "code")
    assert code.text == "# not a heading\ndef days(x):\n\n    return x * 2"
    table = only(doc, lambda e: e.kind == "table")
    assert table.header == "Occasion | Paid days"
    assert table.text.splitlines() == ["Occasion | Paid days", "Wedding | 2", "Moving | 1"]
    assert only(doc, lambda e: "9:00" in e.text).section == ("Annual leave", "Sick leave")


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html><html><head><title>IT Security</title><style>p{color:red}</style></head>
<body><nav><a href="/">Home</a> Menu</nav><header>Intranet banner</header>
<h1>Security   Guidelines</h1><p>Passwords need
  14 characters.<br>Use a <b>passphrase</b>.</p>
<div>Loose text in a div</div>
<article><header><h2>Devices</h2></header><ul><li>Encrypt laptops</li><li>Lock screens</li></ul>
<table><thead><tr><th>Class</th><th>Sharing</th></tr></thead>
<tbody><tr><td>Public</td><td>Anyone</td></tr><tr><td>Internal</td><td>Staff</td></tr></tbody></table>
<pre>  indented
    code</pre>
</article><aside>Related links</aside><script>var tracking = 1;</script><form>Search box</form>
<footer>Copyright footer</footer></body></html>"""


def test_html_structure_and_dropped_chrome(tmp_path: Path) -> None:
    path = tmp_path / "security.html"
    path.write_text(HTML, encoding="utf-8")
    doc = parse(path)
    assert doc.title == "IT Security"
    joined = "\n".join(texts(doc))
    for chrome in ("Menu", "Intranet banner", "Related links", "tracking", "Search box", "footer"):
        assert chrome not in joined
    assert texts(doc, "heading") == ["Security Guidelines", "Devices"]
    assert "Passwords need 14 characters.\nUse a passphrase." in texts(doc)
    assert "Loose text in a div" in texts(doc)
    assert [e.text for e in doc.elements if e.kind == "list"] == ["Encrypt laptops", "Lock screens"]
    table = only(doc, lambda e: e.kind == "table")
    assert table.header == "Class | Sharing"
    assert table.text.splitlines()[1:] == ["Public | Anyone", "Internal | Staff"]
    assert table.section == ("Security Guidelines", "Devices")
    assert only(doc, lambda e: e.kind == "code").text == "  indented\n    code"


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes("<h1>Kündigung</h1><p>Text</p>".encode("cp1252"))
    path.write_bytes(b'<meta charset="windows-1252">' + path.read_bytes())
    assert parse(path).title == "Kündigung"


def test_deeply_nested_html_is_indexed_without_hitting_the_recursion_limit(
    tmp_path: Path,
) -> None:
    """20,000 levels: the walk is iterative and linear (it used to recurse, and to search
    every subtree once per level)."""
    depth = 20_000
    nested = "<div>" * depth + "<p>The deepest clause.</p>" + "</div>" * depth
    inline = "<p>" + "<span>" * depth + "Inline words." + "</span>" * depth + "</p>"
    tables = "<table><tr><td>" * 2_000 + "Cell text." + "</td></tr></table>" * 2_000
    headers = "<section><header>" * 2_000 + "Header text." + "</header></section>" * 2_000
    path = tmp_path / "nested.html"
    path.write_text(f"<html><body>{nested}{inline}{tables}{headers}</body></html>")
    doc = parse(path)
    found = texts(doc)
    assert "The deepest clause." in found and "Inline words." in found
    assert "Header text." in found
    assert only(doc, lambda e: e.kind == "table").text == "Cell text."


# ---------------------------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------------------------


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Expenses Policy", style="Title")
    document.add_heading("Claims", level=1)
    document.add_paragraph("Submit claims within 30 days.")
    document.add_heading("Receipts", level=2)
    document.add_paragraph("Receipts above 25 EUR are required.")
    document.add_paragraph("Photograph each receipt", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    values_by_row = [("City", "Rate"), ("Paris", "53"), ("Munich", "32")]
    for row, values in zip(table.rows, values_by_row, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("After the table.")
    merged = document.add_table(rows=2, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Wide"
    merged.cell(0, 2).text = "Narrow"
    merged.cell(1, 0).text, merged.cell(1, 1).text, merged.cell(1, 2).text = "a", "b", "c"
    document.add_heading("Travel", level=1)
    document.add_paragraph("Trains first.")
    document.save(str(path))


def test_docx_sections_lists_and_tables_in_order(tmp_path: Path) -> None:
    path = tmp_path / "expenses.docx"
    make_docx(path)
    doc = parse(path)
    assert doc.title == "Expenses Policy"
    assert doc.elements[0] == Element(text="Expenses Policy", kind="title")
    assert only(doc, lambda e: "30 days" in e.text).section == ("Expenses Policy", "Claims")
    assert only(doc, lambda e: "25 EUR" in e.text).section == (
        "Expenses Policy",
        "Claims",
        "Receipts",
    )
    assert only(doc, lambda e: e.kind == "list").text == "Photograph each receipt"
    order = texts(doc)
    table_index = order.index("City | Rate\nParis | 53\nMunich | 32")
    assert order[table_index - 1] == "Photograph each receipt"
    assert order[table_index + 1] == "After the table."
    assert doc.elements[table_index].header == "City | Rate"
    assert "Wide | Narrow\na | b | c" in order  # a merged cell appears once
    assert only(doc, lambda e: e.text == "Trains first.").section == ("Expenses Policy", "Travel")


def test_corrupt_docx_is_a_parse_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "broken.docx"
    not_zip.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(ParseError, match="corrupt or truncated"):
        parse(not_zip)
    truncated = tmp_path / "truncated.docx"
    make_docx(truncated)
    truncated.write_bytes(truncated.read_bytes()[:3000])
    with pytest.raises(ParseError):
        parse(truncated)
    wrong_zip = tmp_path / "other.docx"
    with zipfile.ZipFile(wrong_zip, "w") as archive:
        archive.writestr("hello.txt", "not a Word document")
    with pytest.raises(ParseError, match=r"Word document"):
        parse(wrong_zip)


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_zip_bomb_is_refused_before_opening(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bomb{suffix}"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("payload.xml", b"\0" * 20_000_000)  # 20 MB in about 20 KB
    assert path.stat().st_size < 100_000
    with pytest.raises(ParseError, match="zip bomb"):
        parse(path)


@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_a_zip_whose_headers_understate_the_inflated_size_is_refused(
    tmp_path: Path, suffix: str
) -> None:
    """The check inflates every member (in bounded blocks) instead of trusting the headers:
    a member declared as 1 KB that inflates to 20 MB is refused before any parser opens it."""
    path = tmp_path / f"liar{suffix}"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("payload.xml", b"\0" * 20_000_000)
    path.write_bytes(understate(path.read_bytes(), "payload.xml", 1_000))
    with zipfile.ZipFile(path) as archive:  # the archive itself claims to be small
        assert sum(i.file_size for i in archive.infolist()) < 2_000
    with pytest.raises(ParseError, match=r"zip bomb.*payload\.xml.*more than"):
        parse(path)


def test_a_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.docx"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(_common.MAX_ZIP_MEMBERS + 1):
            archive.writestr(f"p{i}", b"")
    with pytest.raises(ParseError, match="parts"):
        parse(path)


def test_zip_unpacked_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "normal.docx"
    make_docx(path)
    monkeypatch.setattr(_common, "MAX_UNZIPPED_BYTES", 10_000)
    with pytest.raises(ParseError, match="zip bomb"):
        parse(path)


# ---------------------------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------------------------


def make_pptx(path: Path) -> None:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Quarterly Results"
    first.placeholders[1].text_frame.text = "Revenue grew 12%"
    first.placeholders[1].text_frame.add_paragraph().text = "Costs fell 3%"
    first.notes_slide.notes_text_frame.text = "Mention the new Leipzig office."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Regional Split"
    box = second.shapes.add_textbox(Inches(1), Inches(5.5), Inches(6), Inches(1))
    box.text_frame.text = "Source: finance team"
    frame = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, values in enumerate([("Region", "Revenue"), ("EMEA", "40"), ("APAC", "25")]):
        for c, value in enumerate(values):
            frame.table.cell(r, c).text = value
    deck.save(str(path))


def test_pptx_slides_titles_tables_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "results.pptx"
    make_pptx(path)
    doc = parse(path)
    assert doc.title == "Quarterly Results"
    assert doc.metadata["slides"] == "2"
    assert {e.page for e in doc.elements} == {1, 2}
    assert [(e.text, e.page) for e in doc.elements if e.kind == "heading"] == [
        ("Quarterly Results", 1),
        ("Regional Split", 2),
    ]
    bullets = only(doc, lambda e: "Revenue grew" in e.text)
    assert (bullets.kind, bullets.text, bullets.section) == (
        "list",
        "Revenue grew 12%\nCosts fell 3%",
        ("Quarterly Results",),
    )
    notes = only(doc, lambda e: e.kind == "notes")
    assert (notes.text, notes.page) == ("Mention the new Leipzig office.", 1)
    table = only(doc, lambda e: e.kind == "table")
    assert (table.page, table.section, table.header) == (2, ("Regional Split",), "Region | Revenue")
    assert table.text.splitlines()[1:] == ["EMEA | 40", "APAC | 25"]
    slide2 = [e.text for e in doc.elements if e.page == 2]
    assert slide2.index(table.text) < slide2.index("Source: finance team")  # top to bottom


# ---------------------------------------------------------------------------------------------
# XLSX and CSV
# ---------------------------------------------------------------------------------------------


def test_xlsx_sheets_headers_and_rows(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    prices = workbook.active
    prices.title = "Prices"
    prices.append(["Product", "Price", "Since"])
    prices.append(["Starter", 49.0, dt.datetime(2025, 1, 1)])
    prices.append([None, None, None])  # one empty row: skipped, same table
    prices.append(["Pro", 119.5, dt.datetime(2025, 3, 1, 14, 30)])
    prices.append([])
    prices.append([])  # two empty rows: a new table starts
    prices.append(["Discount", "Rate"])
    prices.append(["Volume", "10%"])
    people = workbook.create_sheet("People")
    people.append(["Name", "Seats"])
    for i in range(ROWS_PER_ELEMENT + 10):
        people.append([f"user{i}", i])
    path = tmp_path / "book.xlsx"
    workbook.save(path)

    doc = parse(path)
    assert doc.metadata["sheets"] == "Prices, People"
    prices_tables = [e for e in doc.elements if e.sheet == "Prices"]
    assert [e.header for e in prices_tables] == ["Product | Price | Since", "Discount | Rate"]
    assert prices_tables[0].text.splitlines() == [
        "Product | Price | Since",
        "Starter | 49 | 2025-01-01",
        "Pro | 119.5 | 2025-03-01 14:30:00",
    ]
    assert prices_tables[1].text == "Discount | Rate\nVolume | 10%"
    people_tables = [e for e in doc.elements if e.sheet == "People"]
    assert len(people_tables) == 2  # long sheets are cut into bounded blocks...
    assert all(e.header == "Name | Seats" and e.kind == "table" for e in people_tables)
    assert people_tables[1].text.splitlines()[0] == "Name | Seats"  # ...each with its header
    rows = [row for e in people_tables for row in e.text.splitlines()[1:]]
    assert rows == [f"user{i} | {i}" for i in range(ROWS_PER_ELEMENT + 10)]


def test_csv_dialect_and_encoding_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "preise.csv"
    rows = ["Produkt;Preis;Hinweis", "Café Crème;5,00 €;„beliebt“", "", 'Tee;3,50 €;"mit; Zitrone"']
    path.write_bytes("\r\n".join(rows).encode("cp1252"))
    doc = parse(path)
    table = only(doc, lambda e: e.kind == "table")
    assert (table.sheet, table.header) == ("preise", "Produkt | Preis | Hinweis")
    assert table.text.splitlines()[1:] == [
        "Café Crème | 5,00 € | „beliebt“",
        "Tee | 3,50 € | mit; Zitrone",
    ]


def test_corrupt_xlsx_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not-a-workbook")
    with pytest.raises(ParseError, match="Excel workbook"):
        parse(path)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def make_pdf(path: Path, *, title: str | None = None, encrypt: str | None = None) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), encrypt=encrypt)
    if title:
        pdf.setTitle(title)

    def footer(number: int) -> None:
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, 40, f"Northwind Analytics - Travel Policy - Page {number} of 3")

    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(72, 760, "Travel Policy")
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 730, "Alpha: all trips are approved by your team lead before any")
    pdf.drawString(72, 716, "booking is made. Domestic flights are not allowed and the reim-")
    pdf.drawString(72, 702, "bursement follows the expenses policy.")
    footer(1)
    pdf.showPage()
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(72, 760, "2.1 Booking Rules")
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 730, "Bravo: book through the travel agency at least 14 days ahead.")
    footer(2)
    pdf.showPage()
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 760, "Charlie: daily allowances by city are listed below.")
    for row, (city, rate, currency) in enumerate(
        [("City", "Rate", "Currency"), ("Paris", "53", "EUR"), ("London", "52", "GBP")]
    ):
        y = 720 - 16 * row
        pdf.drawString(72, y, city)
        pdf.drawString(250, y, rate)
        pdf.drawString(400, y, currency)
    footer(3)
    pdf.showPage()
    pdf.save()


def test_pdf_pages_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "travel.pdf"
    make_pdf(path)
    doc = parse(path)
    assert doc.title == "Travel Policy"  # reportlab's "untitled" metadata is ignored
    assert doc.metadata["pages"] == "3" and doc.warnings == []
    assert all(e.page in (1, 2, 3) for e in doc.elements)
    for word, page in (("Alpha", 1), ("Bravo", 2), ("Charlie", 3)):
        assert {e.page for e in doc.elements if word in e.text} == {page}
    assert not any("Page 1 of 3" in t or "Northwind Analytics -" in t for t in texts(doc))
    assert [(e.text, e.page) for e in doc.elements if e.kind == "heading"] == [
        ("Travel Policy", 1),
        ("2.1 Booking Rules", 2),
    ]
    first = only(doc, lambda e: "Alpha" in e.text)
    assert first.text == (
        "Alpha: all trips are approved by your team lead before any booking is made. "
        "Domestic flights are not allowed and the reimbursement follows the expenses policy."
    )
    assert first.section == ("Travel Policy",)
    assert only(doc, lambda e: "Bravo" in e.text).section == ("Travel Policy", "2.1 Booking Rules")
    table = only(doc, lambda e: e.kind == "table")
    assert table.page == 3
    assert table.header == "City | Rate | Currency"
    assert table.text.splitlines() == [
        "City | Rate | Currency",
        "Paris | 53 | EUR",
        "London | 52 | GBP",
    ]


def test_pdf_title_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "titled.pdf"
    make_pdf(path, title="Business Travel Rules 2025")
    assert parse(path).title == "Business Travel Rules 2025"


def test_pdf_page_without_text_layer_is_a_warning(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 700, "Only page one has text.")
    pdf.showPage()
    pdf.rect(100, 100, 200, 200, fill=1)  # a "scanned" page: drawing, no text
    pdf.showPage()
    pdf.save()
    doc = parse(path)
    assert texts(doc) == ["Only page one has text."]
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("page 2 has no text layer")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_pdf_page_without_text_layer_is_ocred_with_tesseract(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.pdfgen import canvas

    image = Image.new("L", (1200, 300), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    draw.text((40, 40), "Scanned invoice total", fill=0, font=font)
    draw.text((40, 140), "Amount due 420 EUR", fill=0, font=font)
    image.save(tmp_path / "scan.png")
    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawImage(str(tmp_path / "scan.png"), 50, 500, width=500, height=125)
    pdf.showPage()
    pdf.save()
    doc = parse(path)
    assert doc.warnings == ["page 1 has no text layer; its text comes from OCR"]
    assert [(e.text, e.page) for e in doc.elements] == [
        ("Scanned invoice total", 1),
        ("Amount due 420 EUR", 1),
    ]


def test_encrypted_pdf_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    make_pdf(path, encrypt="s3cret")
    with pytest.raises(ParseError, match="encrypted") as caught:
        parse(path)
    assert caught.value.hint is not None and "qpdf" in caught.value.hint


@pytest.mark.parametrize(
    "content", [b"%PDF-1.7\nthis is not a pdf body", b"plain text renamed to pdf", b"%PDF"]
)
def test_corrupt_pdf_is_a_parse_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    with pytest.raises(ParseError, match="corrupt or unreadable PDF"):
        parse(path)


def test_truncated_pdf_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    make_pdf(path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ParseError):
        parse(path)


# ---------------------------------------------------------------------------------------------
# e-mail
# ---------------------------------------------------------------------------------------------


def make_message(subject: str, body: str, *, attachments: bool = True) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Maren Vogt <people@northwind.example>"
    message["To"] = "staff@northwind.example"
    message["Date"] = "Wed, 15 Jan 2025 09:00:00 +0100"
    message.set_content(body)
    message.add_alternative(f"<p>HTML version: {body}</p>", subtype="html")
    if attachments:
        message.add_attachment(
            b"Day;Hours\nMonday;8\n", maintype="text", subtype="csv", filename="hours.csv"
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("x.txt", "x")
        message.add_attachment(
            buffer.getvalue(), maintype="application", subtype="zip", filename="bundle.zip"
        )
    return message


def test_eml_metadata_body_and_attachments(tmp_path: Path) -> None:
    path = tmp_path / "leave.eml"
    path.write_bytes(make_message("Leave rules 2025", "Please read the new rules.").as_bytes())
    doc = parse(path)
    assert doc.title == "Leave rules 2025"
    assert doc.metadata == {
        "subject": "Leave rules 2025",
        "from": "Maren Vogt <people@northwind.example>",
        "to": "staff@northwind.example",
        "date": "Wed, 15 Jan 2025 09:00:00 +0100",
    }
    assert texts(doc) == ["Please read the new rules."]  # text/plain preferred over HTML
    assert [name for name, _ in doc.children] == ["hours.csv"]
    table = only(doc.children[0][1], lambda e: e.kind == "table")
    assert table.text == "Day | Hours\nMonday | 8"
    assert len(doc.warnings) == 1
    assert "bundle.zip" in doc.warnings[0] and "unsupported format .zip" in doc.warnings[0]


def test_eml_html_only_body_and_attached_message(tmp_path: Path) -> None:
    inner = make_message("Inner note", "Inner body text.", attachments=False)
    outer = EmailMessage()
    outer["Subject"] = "Fwd: note"
    outer.add_alternative(
        "<html><body><h1>Hello</h1><p>See below.</p></body></html>", subtype="html"
    )
    outer.add_attachment(inner)
    path = tmp_path / "fwd.eml"
    path.write_bytes(outer.as_bytes())
    doc = parse(path)
    assert texts(doc) == ["Hello", "See below."]
    assert len(doc.children) == 1
    name, child = doc.children[0]
    assert name.endswith(".eml")
    assert child.title == "Inner note" and texts(child) == ["Inner body text."]


def test_mbox_messages_become_children(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(str(path))
    box.add(make_message("First: update", "Body one.", attachments=False))
    box.add(make_message("Second", "Body two.", attachments=False))
    box.close()
    doc = parse(path)
    assert doc.elements == [] and doc.metadata["messages"] == "2"
    assert [name for name, _ in doc.children] == ["1-First_ update.eml", "2-Second.eml"]
    assert texts(doc.children[1][1]) == ["Body two."]
    assert doc.children[0][1].metadata["from"] == "Maren Vogt <people@northwind.example>"


def test_mbox_without_messages_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mbox"
    path.write_text("just some text, not an mbox\n")
    with pytest.raises(ParseError, match="no messages"):
        parse(path)
