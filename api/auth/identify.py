"""From a request's ``Authorization: Bearer ...`` header to its ``Principal``.

An API key (``rsk_...``) is looked up in the key store; anything else is checked as an OIDC
token when an issuer is configured. With authentication off (allowed only on a loopback
server, ``check_bind``) every request is the local administrator.

Example::

    authenticator = Authenticator(settings)
    principal = authenticator.principal("Bearer rsk_...")
"""

from __future__ import annotations

import ipaddress
import logging

from api.auth.keys import KeyStore
from api.auth.oidc import OidcVerifier
from api.auth.principal import LOCAL, Principal
from api.auth.proxy import ProxyIdentity
from api.rate_limits import RateLimits
from rag.errors import AuthenticationError, ConfigurationError
from rag.settings import Settings

log = logging.getLogger("ragstead.auth")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve without authentication on anything but a loopback address."""
    if not settings.auth.enabled:
        if not is_loopback(host):
            raise ConfigurationError(
                f"authentication is off and the server would listen on {host}",
                hint="turn auth.enabled on (and create keys with `ragstead keys create`), "
                "or bind to 127.0.0.1",
            )
        log.warning("authentication is OFF: every request on %s acts as administrator", host)


class Authenticator:
    """Turns credentials into principals for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.auth.enabled
        self._settings = settings
        self._keys: KeyStore | None = None
        oidc = settings.auth.oidc
        self.oidc = OidcVerifier(oidc) if oidc.issuer else None
        #: identity headers from a trusted reverse proxy (off unless auth.proxy.enabled).
        self.proxy = ProxyIdentity(settings.auth.proxy)
        #: requests per principal and failed sign-ins per client address.
        self.limits = RateLimits(settings.api)

    @property
    def keys(self) -> KeyStore:
        """The API key store in the data directory (opened on first use)."""
        if self._keys is None:
            self._keys = KeyStore(self._settings.auth_path)
        return self._keys

    def principal(self, authorization: str | None, *, client: str | None = None) -> Principal:
        """The caller; AuthenticationError without valid credentials, RateLimitedError when
        ``client`` (its address) failed too often or the caller is over its request rate."""
        if not self.enabled:
            return LOCAL
        self.limits.check_address(client)
        try:
            principal = self.verify(authorization)
        except AuthenticationError as exc:
            self.limits.failed(client)
            log.warning("failed authentication from %s: %s", client or "?", exc.message)
            raise
        self.admit(principal)
        return principal

    def admit(self, principal: Principal) -> None:
        """Count one request of an authenticated ``principal`` (RateLimitedError past its rate)."""
        if self.enabled:
            self.limits.spend(f"{principal.kind}:{principal.name}")

    def verify(self, authorization: str | None) -> Principal:
        """The caller of credentials already counted by ``principal`` (the MCP tools, whose
        request passed the mount's check); AuthenticationError without valid ones."""
        if not self.enabled:
            return LOCAL
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError(
                "authentication required",
                hint="send Authorization: Bearer <API key or token>; keys come from "
                "`ragstead keys create`",
            )
        if token.startswith("rsk_"):
            return self.keys.authenticate(token)
        if self.oidc is None:
            raise AuthenticationError("invalid API key", hint="check the key or ask for a new one")
        return self.oidc.authenticate(token)
