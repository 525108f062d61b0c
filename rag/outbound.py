"""The servers Ragstead itself may contact: loopback, and the hosts ``network.outbound_hosts``
names. Every URL in the settings (a model or embedding server, an OIDC provider's JWKS, a
Chroma server) is checked when the settings load, so a mistyped or planted setting cannot make
the server fetch from, or send document text to, anywhere else. HTTP clients never follow
redirects (httpx's default, kept), so an allowed host cannot pass a request on to another.

Example::

    check_url("http://gpu-box.corp:8000/v1", ["gpu-box.corp"], "generator.base_url")
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from rag.errors import ConfigurationError


def is_loopback_host(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(url: str) -> str:
    """The host a URL (or a bare host name) names, lower case."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    return (parts.hostname or "").lower()


def check_url(
    url: str, allowed: Iterable[str], setting: str, schemes: tuple[str, ...] = ("http", "https")
) -> None:
    """ConfigurationError unless ``url`` has one of ``schemes`` and names loopback or an
    allowed host (a PostgreSQL URL without a host is a local socket)."""
    if "//" in url and urlsplit(url).scheme not in schemes:
        raise ConfigurationError(f"{setting} must be a {' or '.join(schemes)} URL, not {url!r}")
    host = host_of(url)
    if not host and "postgresql" in schemes:
        return  # a Unix socket on this machine
    if not host:
        raise ConfigurationError(f"{setting} names no host: {url!r}")
    if is_loopback_host(host) or host in {h.strip().lower() for h in allowed}:
        return
    raise ConfigurationError(
        f"{setting} names {host}, a host Ragstead may not contact",
        hint=f"add {host!r} to network.outbound_hosts (RAGSTEAD_NETWORK__OUTBOUND_HOSTS) if it"
        " is a server on your premises",
    )
