"""The identity a trusted reverse proxy passes in headers (``auth.proxy``; off by default).

A proxy on the premises (oauth2-proxy, Pomerium, an Apache or nginx module) authenticates the
person and forwards ``X-Forwarded-User`` and ``X-Forwarded-Groups``. Those headers are believed
only from a peer address in ``auth.proxy.trusted``, never from anyone else. The browser sends
the proxy's session cookie with any request, so a request that changes something must also
carry ``X-Requested-With`` (a header another site's page cannot add without a CORS preflight,
which this server never grants): no cross-site request forgery.

Example::

    proxy = ProxyIdentity(settings.auth.proxy)
    principal = proxy.principal("10.0.0.7", request.headers, "POST")   # None: not from the proxy
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from api.auth.principal import SCOPES, Principal
from rag.errors import ConfigurationError, PermissionDeniedError
from rag.settings import ProxyAuthSettings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-Requested-With"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: list[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]
    except ValueError as exc:
        raise ConfigurationError(
            f"auth.proxy.trusted: {exc}", hint="give IP addresses or networks (10.0.0.0/8)"
        ) from exc


class ProxyIdentity:
    """Principals from a trusted proxy's identity headers."""

    def __init__(self, settings: ProxyAuthSettings) -> None:
        self.enabled = settings.enabled
        self.settings = settings
        self.trusted = _networks(settings.trusted)
        if self.enabled and not self.trusted:
            raise ConfigurationError(
                "auth.proxy is on but trusts no address",
                hint="set auth.proxy.trusted to the reverse proxy's address",
            )
        bad = set(settings.scopes) - set(SCOPES)
        if bad:
            raise ConfigurationError(f"auth.proxy.scopes: unknown {sorted(bad)}")

    def is_trusted(self, peer: str | None) -> bool:
        """Whether ``peer`` (the connection's address) is a trusted proxy."""
        try:
            address = ipaddress.ip_address((peer or "").strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def principal(
        self, peer: str | None, headers: Mapping[str, str], method: str
    ) -> Principal | None:
        """The person the proxy names, or None when the request did not come through it."""
        if not self.enabled or not self.is_trusted(peer):
            return None
        user = (headers.get(self.settings.user_header) or "").strip()
        if not user:
            return None
        if method.upper() not in SAFE_METHODS and not headers.get(CSRF_HEADER):
            raise PermissionDeniedError(
                f"a change through the proxy needs the {CSRF_HEADER} header",
                hint="the web page sends it; a page on another site cannot",
            )
        groups = headers.get(self.settings.groups_header) or ""
        return Principal(
            name=user[:200],
            groups=frozenset(g.strip() for g in groups.split(",") if g.strip()),
            scopes=frozenset(self.settings.scopes),
            kind="proxy",
        )
