"""A small document set with every kind of metadata a filter selects on, and its indexer."""

from __future__ import annotations

from pathlib import Path

from rag.chunk_vectors import embed_chunks
from rag.container import Container
from rag.filters import parse_date
from rag.stores.catalog import DocumentRecord
from rag.types import Chunk

DOCS: list[dict[str, object]] = [
    {
        "doc_id": "public",
        "source": "/docs/handbook/parking.md",
        "doc_type": "md",
        "section": "Facilities > Parking",
        "date": "2023-01-10",
        "tags": ("facilities",),
        "groups": (),
        "texts": ["Staff parking is free in the north garage; visitors park on level two."],
    },
    {
        "doc_id": "canteen",
        "source": "/docs/handbook/canteen.md",
        "doc_type": "md",
        "section": "Facilities > Canteen",
        "date": "2023-02-01",
        "tags": ("facilities",),
        "groups": (),
        "texts": ["The canteen serves lunch from noon; bicycles are parked behind it."],
    },
    {
        "doc_id": "hr",
        "source": "/docs/hr/leave.pdf",
        "doc_type": "pdf",
        "section": "Benefits > Leave",
        "date": "2024-03-01",
        "tags": ("hr",),
        "groups": ("hr",),
        "texts": ["Parental leave is twenty weeks; parking permits stay valid during leave."],
    },
    {
        "doc_id": "finance",
        "source": "/docs/finance/expenses.docx",
        "doc_type": "docx",
        "section": "Expenses",
        "date": "2024-06-01",
        "tags": ("finance", "policy"),
        "groups": ("finance",),
        "texts": ["Parking fees on business trips are reimbursed with a receipt."],
    },
    {
        "doc_id": "exec",
        "source": "/docs/exec/board.pdf",
        "doc_type": "pdf",
        "section": "Board",
        "date": "2025-01-15",
        "tags": ("policy",),
        "groups": ("exec",),
        "texts": ["The board approved the budget for a new parking structure."],
    },
    {
        "doc_id": "manual",
        "source": "/docs/handbook/manual.md",
        "doc_type": "md",
        "section": "Onboarding",
        "date": "2023-05-05",
        "tags": (),
        "groups": (),
        "texts": [
            "Welcome to Northwind. Your first day starts at nine.",
            "Collect your badge from reception on the ground floor.",
            "The badge opens the north garage barrier and the office doors.",
            "Laptops are handed out by IT on the second floor.",
            "Your manager books an introduction lunch in the first week.",
        ],
    },
]
ALL = {str(d["doc_id"]) for d in DOCS}


def put(container: Container, spec: dict[str, object]) -> None:
    """Index one document's chunks directly (vectors first, then the catalog swap)."""
    doc_id = str(spec["doc_id"])
    source = str(spec["source"])
    mtime = parse_date(str(spec["date"]))
    groups = tuple(spec["groups"])  # type: ignore[arg-type]
    record = DocumentRecord(
        doc_id=doc_id,
        source=source,
        mtime=mtime,
        title=Path(source).stem,
        doc_type=str(spec["doc_type"]),
        groups=groups,
    )
    chunks = [
        Chunk(
            id=f"{doc_id}-{i}",
            doc_id=doc_id,
            text=text,
            source=source,
            title=Path(source).stem,
            section=str(spec["section"]),
            chunk_index=i,
            mtime=mtime,
            doc_type=str(spec["doc_type"]),
            groups=groups,
            tags=tuple(spec["tags"]),  # type: ignore[arg-type]
        )
        for i, text in enumerate(spec["texts"])  # type: ignore[arg-type]
    ]
    vectors, parts = embed_chunks(container.embedder, chunks)
    container.vector_store.upsert(
        [c.id for c in chunks], vectors, [c.metadata() for c in chunks], parts
    )
    container.catalog.replace_document(record, chunks)
