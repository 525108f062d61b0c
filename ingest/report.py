"""What an ingestion run reports: the summary at the end, and progress while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class IngestReport:
    """What an ingestion run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: (old source, new source): a moved file whose chunks and vectors were reused.
    renamed: list[tuple[str, str]] = field(default_factory=list)
    #: (source, warning): problems that did not stop a file (a page without a text layer...).
    warnings: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    pages: int = 0
    #: chunks whose vectors were reused (renamed or regrouped files) rather than embedded.
    reused_chunks: int = 0
    seconds: float = 0.0
    #: worker time spent hashing, parsing and chunking (summed over files and workers).
    parse_seconds: float = 0.0
    #: time the main process spent in the embedder.
    embed_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "renamed": [{"from": a, "to": b} for a, b in self.renamed],
            "removed": self.removed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "warnings": [{"path": p, "warning": w} for p, w in self.warnings],
            "chunks": self.chunks,
            "reused_chunks": self.reused_chunks,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "parse_seconds": round(self.parse_seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
        }


@dataclass
class IngestProgress:
    """A snapshot of a running ingestion, passed to the progress hook.

    ``phase`` is "scan" (comparing files with the manifest), "index" (parsing, embedding,
    writing), "prune" (removing documents whose files are gone) or "done".
    """

    phase: str
    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    pages: int = 0
    elapsed: float = 0.0
    current: str = ""


ProgressHook = Callable[[IngestProgress], None]
