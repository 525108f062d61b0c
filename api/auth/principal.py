"""Who is asking: the ``Principal`` every route receives, and what it may see.

A principal comes from an API key or an OIDC token (``api.auth.identify``). Its groups decide,
inside every search, which documents exist for the request; a request's own ``groups`` may
narrow them, never widen them. ``admin`` sees every document.

Example::

    filters = principal.filters(requested)   # what the retriever is given
    principal.require("write")               # PermissionDeniedError without the scope
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rag.errors import PermissionDeniedError
from rag.filters import Filters

SCOPES = ("read", "write", "admin")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset({"read"})
    #: collections the caller may use (None: all).
    collections: frozenset[str] | None = None
    #: "key", "oidc", "proxy" (a trusted reverse proxy), or "local" (authentication off on a
    #: loopback server).
    kind: str = "key"

    @property
    def is_admin(self) -> bool:
        """Holds the ``admin`` scope: sees every document, manages keys."""
        return "admin" in self.scopes

    def require(self, scope: str) -> None:
        """PermissionDeniedError unless the caller holds ``scope`` (``admin`` holds all)."""
        if scope not in self.scopes and not self.is_admin:
            raise PermissionDeniedError(
                f"{self.name} lacks the {scope!r} scope",
                hint=f"ask an administrator for a key with --scopes {scope}",
            )

    def may_use(self, collection: str) -> bool:
        """Whether the caller's key is limited to collections that include ``collection``."""
        return self.collections is None or collection in self.collections

    def filters(self, requested: Filters | None) -> Filters:
        """``requested`` with the access groups this caller may use: its own (all for
        ``admin``), narrowed by the groups the request names, never widened."""
        requested = requested or Filters()
        if self.is_admin:
            return requested
        allowed = self.groups
        if requested.groups is not None:
            allowed = allowed & requested.groups
        return dataclasses.replace(requested, groups=frozenset(allowed))


LOCAL = Principal("local", scopes=frozenset(SCOPES), kind="local")


def may_see(principal: Principal, groups: tuple[str, ...] | frozenset[str]) -> bool:
    """Whether ``principal`` may see a document with these access groups (none: everyone)."""
    return principal.is_admin or not groups or bool(principal.groups.intersection(groups))
