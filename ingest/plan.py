"""Discover files and decide, from the manifest alone, what a run must do with each.

A file whose size and mtime match its manifest row, indexed with the same settings and access
groups, is unchanged: it is not read at all. Everything else becomes work:

- a new or changed file is parsed (a changed one with its old hash, so that a file that was
  only touched is recognised by its hash and not parsed again);
- a new file with the same bytes as an indexed one (a copy, or a move when the old file is
  gone and pruning is on) reuses that document's chunks and vectors: nothing is parsed or
  embedded;
- an unchanged file whose access groups changed reuses its own chunks under the new groups.

Access groups come from the nearest ``.ragstead-groups`` file in the file's folder or a folder
above it (up to the folder being ingested): group names separated by commas, spaces or lines,
``#`` starting a comment. Without one, the run's ``groups`` apply; without those either, an
indexed file keeps its groups and a new file gets the configured default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.parsers import is_supported, parser_for
from ingest.workers import FileTask, file_hash
from rag.errors import UnsupportedFormatError
from rag.stores.catalog import DocumentRecord

GROUPS_FILE = ".ragstead-groups"


def discover(root: Path) -> Iterator[Path]:
    """Files under ``root`` (or ``root`` itself), sorted; hidden files, folders and Office lock
    files (``~$name.docx``) are left out."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.name.startswith("~$"):
            continue
        if path.is_file():
            yield path


def parse_groups(text: str) -> tuple[str, ...]:
    """Group names from a groups file or option: split on commas and whitespace, sorted."""
    names: set[str] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        names.update(n.strip() for n in line.replace(",", " ").split() if n.strip())
    return tuple(sorted(names))


class GroupResolver:
    """The access groups of each file: the nearest groups file, else the run's ``--groups``.

    When neither says anything, :meth:`groups_for` returns None: an indexed file keeps the
    groups it has (a run without ``--groups`` never lifts a restriction), a new file gets
    ``default``.
    """

    def __init__(
        self, root: Path, explicit: Sequence[str] | None, default: Sequence[str] = ()
    ) -> None:
        self.top = root if root.is_dir() else root.parent
        self.explicit = None if explicit is None else tuple(sorted(set(explicit)))
        self.default = tuple(sorted(set(default)))
        self._cache: dict[Path, tuple[str, ...] | None] = {}

    def groups_for(self, path: Path) -> tuple[str, ...] | None:
        """Groups of the file at ``path`` from a groups file or the option; None if neither."""
        return self._folder(path.parent)

    def _folder(self, folder: Path) -> tuple[str, ...] | None:
        if folder not in self._cache:
            sidecar = folder / GROUPS_FILE
            if sidecar.is_file():
                self._cache[folder] = parse_groups(sidecar.read_text(errors="replace"))
            elif folder == self.top or folder.parent == folder or self.top not in folder.parents:
                self._cache[folder] = self.explicit
            else:
                self._cache[folder] = self._folder(folder.parent)
        return self._cache[folder]

    def resolve(self, path: Path, record: DocumentRecord | None) -> tuple[str, ...]:
        """The groups a run gives the file: as said, else as indexed, else the default."""
        said = self.groups_for(path)
        if said is not None:
            return said
        return record.groups if record is not None else self.default


@dataclass
class Job:
    """What the run knows about one file it works on."""

    path: Path
    groups: tuple[str, ...]
    record: DocumentRecord | None = None


@dataclass
class Reuse:
    """A file whose bytes are already indexed as ``source``: copy its chunks and vectors."""

    job: Job
    source: DocumentRecord
    size: int
    mtime: float
    content_hash: str
    #: the old file is gone: the copy replaces it (reported as renamed).
    rename: bool = False


@dataclass
class Plan:
    """Everything a run must do, decided before any file is read."""

    tasks: list[FileTask] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    reuse: list[Reuse] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: symbolic links that lead out of the folder: never read (and removed by a prune).
    refused: set[str] = field(default_factory=set)
    files: int = 0


OUTSIDE_LINK = "a symbolic link to a file outside the folder being ingested: not followed"


def _inside(path: Path, root: Path) -> bool:
    """Whether the file at ``path`` stays under ``root`` (resolved) once links are followed.

    :func:`discover` never descends into a linked folder, so only a link itself can lead out.
    """
    if not path.is_symlink():
        return True
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link or a loop
        return False
    return target == root or root in target.parents


def _under(source: str, root: Path) -> bool:
    prefix = str(root)
    return source == prefix or source.startswith(prefix + os.sep)


def unsupported_reason(path: Path) -> str:
    """Why a file's format is not ingested, with what to convert it to."""
    try:
        parser_for(path)
    except UnsupportedFormatError as exc:
        return str(exc)
    return "unsupported format"


def make_plan(
    root: Path,
    records: Sequence[DocumentRecord],
    *,
    config: dict[str, Any],
    resolver: GroupResolver,
    force: bool = False,
    prune: bool = False,
) -> Plan:
    """Compare the files under ``root`` with the manifest rows and decide the work."""
    plan = Plan()
    by_source = {r.source: r for r in records if r.parent_id is None}
    by_size: dict[int, list[DocumentRecord]] = {}
    for r in by_source.values():
        if r.status == "indexed" and r.metadata.get("index") == config and r.n_chunks:
            by_size.setdefault(r.size, []).append(r)
    claimed: set[str] = set()
    explicit = root.is_file()
    for path in discover(root):
        source = str(path)
        if not explicit and not _inside(path, root):
            plan.skipped.append((source, OUTSIDE_LINK))
            plan.refused.add(source)
            continue
        if not is_supported(path):
            reason = unsupported_reason(path)
            (plan.failed if explicit else plan.skipped).append((source, reason))
            continue
        plan.files += 1
        try:
            stat = path.stat()
        except OSError as exc:
            plan.failed.append((source, f"cannot read the file: {exc.strerror or exc}"))
            continue
        record = by_source.get(source)
        job = Job(path, resolver.resolve(path, record), record)
        same_stat = record is not None and (record.size, record.mtime) == (
            stat.st_size,
            stat.st_mtime,
        )
        if record is not None and same_stat and not force:
            if record.status == "failed":
                plan.failed.append((source, f"{record.error} (unchanged since it failed)"))
                continue
            if record.metadata.get("index") == config:
                if record.groups == job.groups:
                    plan.unchanged.append(source)
                else:
                    plan.reuse.append(
                        Reuse(job, record, stat.st_size, stat.st_mtime, record.content_hash)
                    )
                continue
        if record is None and not force and stat.st_size in by_size:
            digest = file_hash(path)
            twins = [r for r in by_size[stat.st_size] if r.content_hash == digest]
            if twins:
                gone = [
                    r
                    for r in twins
                    if r.source not in claimed
                    and _under(r.source, root)
                    and not Path(r.source).exists()
                ]
                rename = prune and bool(gone)
                twin = gone[0] if rename else twins[0]
                if rename:
                    claimed.add(twin.source)
                plan.reuse.append(Reuse(job, twin, stat.st_size, stat.st_mtime, digest, rename))
                continue
        known = None
        if (
            record is not None
            and not force
            and record.status == "indexed"
            and record.metadata.get("index") == config
            and record.groups == job.groups
        ):
            known = record.content_hash
        plan.jobs[source] = job
        plan.tasks.append(FileTask(source, known))
    return plan


def vanished(
    records: Sequence[DocumentRecord],
    root: Path,
    keep: set[str],
    refused: set[str] | frozenset[str] = frozenset(),
) -> list[DocumentRecord]:
    """Top-level file documents under ``root`` whose files are gone (and not in ``keep``), or
    that are now ``refused`` (links leading out of the folder)."""
    return [
        r
        for r in records
        if r.parent_id is None
        and r.metadata.get("origin") == "file"
        and r.source not in keep
        and _under(r.source, root)
        and (r.source in refused or not Path(r.source).exists())
    ]
