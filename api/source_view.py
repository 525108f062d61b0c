"""Sources as a caller may see them: whole server paths for admins, relative ones for others.

A document's ``source`` is the path it was read from (``/srv/share/hr/leave.pdf``). Callers
without the ``admin`` scope see it relative to its root, so no response tells them how the
server's disks are laid out:

- an uploaded file, relative to its job's folder: ``uploads/<job>/leave.pdf`` -> ``leave.pdf``;
- any other file, relative to the deepest folder that holds every other (non-uploaded)
  document of its collection: ``/srv/share/hr/leave.pdf`` -> ``hr/leave.pdf``.

A source glob in a request's filters still matches: a relative pattern matches a path's end.

Example::

    view = SourceView.for_caller(principal, container)
    answer = view.answer(stream.result())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from api.auth.principal import Principal
from rag.types import Answer, Citation


class _Roots(Protocol):
    def source_root(self, *, outside: str = "") -> str: ...


class SourceView:
    """Rewrites sources for one caller (identity for admins)."""

    def __init__(self, shown: Callable[[str], str] | None = None) -> None:
        self._shown = shown

    @classmethod
    def for_caller(cls, principal: Principal, catalog: _Roots, uploads_dir: Path) -> SourceView:
        """The view for ``principal`` over the documents of ``catalog``."""
        if principal.is_admin:
            return cls()
        uploads = str(uploads_dir.resolve()).rstrip("/") + "/"
        root: list[str] = []  # found on first use: most responses of a refusal cite nothing

        def shown(source: str) -> str:
            if source.startswith(uploads):
                return source[len(uploads) :].partition("/")[2] or Path(source).name
            if not root:
                root.append(catalog.source_root(outside=uploads))
            if root[0] and source.startswith(root[0]):
                return source[len(root[0]) :]
            path, mark, member = source.partition("#")  # "mail.eml#attachment.pdf"
            return Path(path).name + mark + member

        return cls(shown)

    def source(self, source: str) -> str:
        """``source`` as this caller sees it."""
        return source if self._shown is None else self._shown(source)

    def citations(self, citations: Sequence[Citation]) -> list[Citation]:
        """Copies of ``citations`` with their sources rewritten."""
        if self._shown is None:
            return list(citations)
        return [replace(c, source=self._shown(c.source)) for c in citations]

    def answer(self, answer: Answer) -> Answer:
        """A copy of ``answer`` whose citations' sources are rewritten."""
        if self._shown is None:
            return answer
        return replace(answer, citations=self.citations(answer.citations))
