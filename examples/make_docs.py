"""Regenerate the binary example documents in ``examples/docs/``.

The text-based examples (``leave-policy.md``, ``it-security.html``, ``travel-faq.txt``,
``price-list.csv``) are edited by hand. The two binary ones are built here from the text in this
file, byte-for-byte reproducibly, so a change to their content is a reviewable diff of this script:

- ``expenses-policy.docx``  (python-docx: Heading styles, a list, a per-diem table)
- ``onboarding-guide.pdf``  (reportlab: four pages, standard Helvetica fonts, real text layer)

Usage::

    python examples/make_docs.py            # writes into examples/docs/
    python examples/make_docs.py OUT_DIR    # writes somewhere else
    python examples/make_docs.py --check    # checks examples/questions.jsonl against the docs

``--check`` asserts, for every question, that its ``answer`` occurs verbatim in the extracted text
of its ``source`` (on ``page`` for the PDF) and in no other example document or page, so a
retrieval test can expect that document to be cited first.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import io
import json
import re
import sys
import zipfile
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent / "docs"
QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"

COMPANY = "Northwind Analytics GmbH"
#: fixed timestamp written into document metadata, so regenerated files are identical.
FIXED_DATE = dt.datetime(2025, 1, 15, 9, 0, 0)

# --------------------------------------------------------------------------------------------
# expenses-policy.docx
# --------------------------------------------------------------------------------------------

EXPENSES_TITLE = "Expenses Policy"

# Each block: ("h1" | "h2" | "p" | "bullet" | "table", content)
EXPENSES_BLOCKS: list[tuple[str, object]] = [
    (
        "p",
        f"{COMPANY} · Finance · Policy FIN-02 · Version 2.1, valid from 1 January 2025",
    ),
    (
        "p",
        (
            "This policy sets out which business expenses Northwind Analytics reimburses, which "
            "receipts are needed and how claims are submitted and approved. Booking rules for trips are "
            "covered in the separate travel FAQ; this document is about getting your money back."
        ),
    ),
    ("h2", "1. Submitting an expense claim"),
    (
        "p",
        (
            "All claims are filed in Spendwise, our expense management tool, which is available in the "
            "browser and as a mobile app. Photograph each receipt with the Spendwise app; the original "
            "paper receipt does not need to be kept once the photo has been accepted."
        ),
    ),
    (
        "p",
        (
            "Claims must be submitted within 30 days of the date the expense was incurred. Claims "
            "submitted later are reimbursed only with written approval from the Head of Finance."
        ),
    ),
    (
        "p",
        (
            "Approved claims are reimbursed with the next monthly payroll run, provided they are approved "
            "by the 20th of the month."
        ),
    ),
    ("h2", "2. Receipts"),
    (
        "p",
        (
            "An itemised receipt is required for every expense above 25 EUR. Smaller amounts, such as "
            "parking meters or public transport tickets, may be claimed without a receipt by entering a "
            "short description in Spendwise."
        ),
    ),
    (
        "p",
        (
            "Receipts must show the supplier, the date, the amount and the VAT. For amounts above "
            "250 EUR the invoice must be addressed to Northwind Analytics GmbH, Karl-Heine-Strasse 27, "
            "04229 Leipzig."
        ),
    ),
    ("h2", "3. Approval thresholds"),
    (
        "p",
        (
            "Every claim is approved in Spendwise before it is paid. The approver depends on the "
            "total amount of the claim:"
        ),
    ),
    ("bullet", "Up to 500 EUR: approved by your team lead."),
    ("bullet", "From 500 EUR to 2,500 EUR: approved by the head of department."),
    ("bullet", "Above 2,500 EUR: approved by the Chief Financial Officer."),
    ("p", "Nobody may approve their own claim or a claim from their own manager."),
    ("h2", "4. Per-diem meal allowances"),
    (
        "p",
        (
            "For business trips with an overnight stay, meals are covered by a daily per-diem allowance "
            "instead of individual receipts. On arrival and departure days half of the rate applies. If a "
            "meal is provided (for example breakfast included in the room), the per-diem is reduced by "
            "20 % for breakfast and 40 % each for lunch or dinner."
        ),
    ),
    (
        "table",
        [
            ("City", "Full day (EUR)", "Arrival/departure day (EUR)"),
            ("Leipzig, Berlin, Hamburg", "28", "14"),
            ("Munich", "32", "16"),
            ("Vienna", "40", "20"),
            ("Amsterdam", "47", "23.50"),
            ("Paris", "53", "26.50"),
            ("London", "52", "26"),
            ("Zurich", "64", "32"),
        ],
    ),
    (
        "p",
        (
            "For cities not listed, Spendwise applies the official German per-diem rates for the "
            "country (Auslandstagegeld)."
        ),
    ),
    ("h2", "5. Private car use"),
    (
        "p",
        (
            "When a private car is used for business, the mileage allowance is 0.30 EUR/km for the "
            "distance actually driven. Parking fees and motorway tolls are reimbursed on top. Fines for "
            "traffic or parking offences are never reimbursed."
        ),
    ),
    ("h2", "6. Client entertainment and team events"),
    (
        "p",
        (
            "Business meals with clients are reimbursed up to 70 EUR per person including drinks and tip. "
            "The receipt must list the names of all guests and their companies. Team events are covered "
            "up to 60 EUR per person per quarter from the team budget."
        ),
    ),
    ("h2", "7. Non-reimbursable items"),
    (
        "bullet",
        "Minibar, pay-TV and laundry in hotels (unless the trip exceeds five nights).",
    ),
    (
        "bullet",
        "Personal travel insurance, passports and visa photos for private purposes.",
    ),
    ("bullet", "Upgrades that were not approved in advance."),
    ("p", "Questions: finance@northwind-analytics.de, contact person Jonas Albrecht."),
]


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed member timestamps and order, so output is reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return out.getvalue()


def build_expenses_docx(path: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.title = EXPENSES_TITLE
    props.author = f"{COMPANY} Finance"
    props.last_modified_by = f"{COMPANY} Finance"
    props.subject = "Reimbursement of business expenses"
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.revision = 1

    doc.add_heading(EXPENSES_TITLE, level=1)
    for kind, content in EXPENSES_BLOCKS:
        if kind == "h1":
            doc.add_heading(str(content), level=1)
        elif kind == "h2":
            doc.add_heading(str(content), level=2)
        elif kind == "p":
            doc.add_paragraph(str(content))
        elif kind == "bullet":
            doc.add_paragraph(str(content), style="List Bullet")
        elif kind == "table":
            rows = list(content)  # type: ignore[arg-type]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Light Grid Accent 1"
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
                            run.font.size = Pt(10)
        else:
            raise ValueError(kind)

    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_stable_zip(buf.getvalue()))


# --------------------------------------------------------------------------------------------
# onboarding-guide.pdf
# --------------------------------------------------------------------------------------------

ONBOARDING_TITLE = "Onboarding Guide for New Employees"

# One list per PDF page; each item: ("h" | "p" | "bullet", text). Facts are page-specific on
# purpose: questions in examples/questions.jsonl expect the answer on a given page.
ONBOARDING_PAGES: list[list[tuple[str, str]]] = [
    [  # page 1: the first day
        ("title", ONBOARDING_TITLE),
        ("p", f"{COMPANY} · People &amp; Culture · Edition 2025"),
        (
            "p",
            (
                "Welcome to Northwind Analytics! This guide walks you through your first day, your first "
                "weeks and your probation period. Keep it handy; most first-week questions are answered here."
            ),
        ),
        ("h", "Your first day"),
        (
            "p",
            (
                "Please arrive at 9:30 at our Leipzig headquarters, Karl-Heine-Strasse 27. Go to reception "
                "desk B on the ground floor, where you pick up your building badge. Bring an official photo "
                "ID; the badge photo is taken on the spot."
            ),
        ),
        (
            "p",
            (
                "Your laptop is issued by IT on day 1. The IT service desk in room 2.14 sets it up with you "
                "at 11:00 and explains the accounts you will use."
            ),
        ),
        ("h", "Day 1 schedule"),
        ("bullet", "9:30 Badge pickup at reception desk B"),
        ("bullet", "10:00 Welcome coffee with your team lead"),
        ("bullet", "11:00 Laptop handover at the IT service desk, room 2.14"),
        ("bullet", "12:30 Welcome lunch in the Kantine am Kanal with your team"),
        (
            "bullet",
            "14:30 Office tour: meeting rooms, quiet zones and the roof terrace",
        ),
    ],
    [  # page 2: the first weeks
        ("h", "Your first weeks"),
        (
            "p",
            (
                "Every new colleague is paired with a buddy from a neighbouring team. The buddy programme "
                "runs for 6 weeks. Your buddy is your first contact for unwritten rules, lunch spots and "
                "who-knows-what questions, and meets you for a check-in every Friday afternoon."
            ),
        ),
        (
            "p",
            (
                "Complete the e-learning course Northwind Foundations within your first 10 working days. "
                "It covers our products, data protection basics and how projects are run."
            ),
        ),
        (
            "p",
            (
                "Once a month the founders, Clara Reinholt and Tobias Kern, host an Ask-Me-Anything "
                "session for everyone who joined in the last quarter. The invitation arrives by calendar."
            ),
        ),
        ("h", "Tools you will meet"),
        ("bullet", "Atrium: the intranet, with the org chart and all policies"),
        ("bullet", "Pulse: weekly team goals and one-to-one notes"),
        (
            "bullet",
            "Matrix chat: team channels; #welcome is where you introduce yourself",
        ),
        (
            "p",
            (
                "Core working hours are 10:00 to 15:00. Outside these hours you organise your time with "
                "your team. Mobile work is possible for up to 3 days per week after the first month."
            ),
        ),
    ],
    [  # page 3: probation and feedback
        ("h", "Probation and feedback"),
        (
            "p",
            (
                "The probation period is 6 months. During probation either side may end the employment "
                "with a notice period of two weeks. After probation the notice period stated in your "
                "contract applies."
            ),
        ),
        (
            "p",
            (
                "You have two structured feedback conversations with your team lead during probation: a "
                "goal-setting review at the end of month 3 and a probation review in month 5. The "
                "probation review ends with a written confirmation of whether probation was passed."
            ),
        ),
        ("h", "Learning budget"),
        (
            "p",
            (
                "Each employee has a personal learning budget of 1,500 EUR per year for courses, "
                "conferences and books, plus two paid learning days. The budget is available from the "
                "first month, including during probation."
            ),
        ),
    ],
    [  # page 4: benefits and practical matters
        ("h", "Benefits and practical matters"),
        (
            "bullet",
            "Deutschlandticket: the company pays your Deutschlandticket as a job ticket in full.",
        ),
        (
            "bullet",
            "Sport: Northwind subsidises an Urban Sports Club membership with 30 EUR per month.",
        ),
        (
            "bullet",
            (
                "Company pension: Northwind adds 20 % on top of everything you convert into the "
                "company pension scheme."
            ),
        ),
        (
            "bullet",
            "Bike leasing: a JobRad bicycle can be leased through salary conversion.",
        ),
        (
            "bullet",
            "Kantine am Kanal: lunch is subsidised, a main dish costs 4.50 EUR for employees.",
        ),
        ("h", "Who to ask"),
        (
            "p",
            (
                "People &amp; Culture: people@northwind-analytics.de. Office Management (keys, desks, "
                "parcels): office@northwind-analytics.de. Your buddy and your team lead are always "
                "happy to help."
            ),
        ),
    ],
]


def build_onboarding_pdf(path: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        ListFlowable,
        ListItem,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
    )

    styles = getSampleStyleSheet()
    body = ParagraphStyle(
        "Body",
        parent=styles["BodyText"],
        fontName="Helvetica",
        fontSize=11,
        leading=15,
        spaceAfter=8,
    )
    h = ParagraphStyle(
        "H",
        parent=styles["Heading2"],
        fontName="Helvetica-Bold",
        fontSize=15,
        leading=19,
        spaceBefore=10,
        spaceAfter=6,
        textColor=colors.HexColor("#1f3a5f"),
    )
    title = ParagraphStyle(
        "T",
        parent=styles["Title"],
        fontName="Helvetica-Bold",
        fontSize=22,
        leading=27,
        spaceAfter=10,
        textColor=colors.HexColor("#1f3a5f"),
    )

    class _Doc(SimpleDocTemplate):
        def afterPage(
            self,
        ) -> None:  # footer drawn last, so text extraction reads it last
            _footer(self.canv, self)

    def _footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(2 * cm, 1.2 * cm, f"{COMPANY} - {ONBOARDING_TITLE}")
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Page {doc.page}")
        canvas.restoreState()

    story: list = []
    for i, page in enumerate(ONBOARDING_PAGES):
        if i:
            story.append(PageBreak())
        bullets: list = []
        for kind, text in page + [("end", "")]:
            if kind != "bullet" and bullets:
                story.append(
                    ListFlowable(
                        [ListItem(b, leftIndent=14) for b in bullets],
                        bulletType="bullet",
                        start="-",
                        leftIndent=14,
                    )
                )
                story.append(Spacer(1, 6))
                bullets = []
            if kind == "title":
                story.append(Paragraph(text, title))
            elif kind == "h":
                story.append(Paragraph(text, h))
            elif kind == "p":
                story.append(Paragraph(text, body))
            elif kind == "bullet":
                bullets.append(Paragraph(text, body))
            elif kind != "end":
                raise ValueError(kind)

    doc = _Doc(
        str(path),
        pagesize=A4,
        leftMargin=2.2 * cm,
        rightMargin=2.2 * cm,
        topMargin=2.2 * cm,
        bottomMargin=2.2 * cm,
        title=ONBOARDING_TITLE,
        author=f"{COMPANY} People & Culture",
        subject="Onboarding for new employees",
        creator="examples/make_docs.py",
        invariant=1,
    )
    doc.build(story)
    n_pages = doc.page
    if n_pages != len(ONBOARDING_PAGES):
        raise SystemExit(
            f"onboarding PDF has {n_pages} pages, expected {len(ONBOARDING_PAGES)}: "
            "a page overflowed; shorten its text"
        )


# --------------------------------------------------------------------------------------------
# --check: questions.jsonl against the documents
# --------------------------------------------------------------------------------------------


class _HTMLText(html.parser.HTMLParser):
    """Visible text of the main content, without script/style/nav/header/footer/aside."""

    SKIP = frozenset({"script", "style", "nav", "header", "footer", "aside", "head"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def _extract(path: Path) -> dict[int | None, str]:
    """Text of a document keyed by page (``None`` for formats without pages)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(str(path))
        return {i + 1: pdf[i].get_textpage().get_text_range() for i in range(len(pdf))}
    if suffix == ".docx":
        from docx import Document

        doc = Document(str(path))
        parts = [p.text for p in doc.paragraphs]
        parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
        return {None: "\n".join(parts)}
    text = path.read_text(encoding="utf-8")
    if suffix in (".html", ".htm"):
        parser = _HTMLText()
        parser.feed(text)
        text = "".join(parser.parts)
    elif suffix == ".md":
        text = text.replace("**", "")
    return {None: text}


def check_questions(
    docs_dir: Path = DOCS_DIR, questions: Path = QUESTIONS
) -> list[str]:
    norm = lambda t: re.sub(r"\s+", " ", t)
    texts = {
        (f.name, page): norm(t)
        for f in sorted(docs_dir.iterdir())
        if f.is_file()
        for page, t in _extract(f).items()
    }
    problems = []
    for n, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        q = json.loads(line)
        where = sorted(
            (name, page) for (name, page), t in texts.items() if q["answer"] in t
        )
        want = (q["source"], q["page"])
        if want not in texts:
            problems.append(f"line {n}: no document/page {want}")
        elif where != [want]:
            problems.append(
                f"line {n}: answer {q['answer']!r} found in {where}, expected only {want}"
            )
    return problems


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        problems = check_questions()
        for p in problems:
            print(p)
        print("questions OK" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    out = Path(argv[1]) if len(argv) > 1 else DOCS_DIR
    out.mkdir(parents=True, exist_ok=True)
    build_expenses_docx(out / "expenses-policy.docx")
    build_onboarding_pdf(out / "onboarding-guide.pdf")
    for name in ("expenses-policy.docx", "onboarding-guide.pdf"):
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
