"""OIDC bearer tokens (JWT) from the company's identity provider, checked with PyJWT.

The signature is checked against the provider's JWKS (a file, or a URL on the premises fetched
without following redirects and cached), then the issuer, audience, expiry and not-before.
Groups come from a configurable claim (a list, or a comma- or space-separated string); scopes
from the ``scope`` claim, keeping Ragstead's own (``read``, ``write``, ``admin``), else the
configured default.

Example::

    verifier = OidcVerifier(settings.auth.oidc)
    principal = verifier.authenticate(token)
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import httpx
import jwt

from api.auth.principal import SCOPES, Principal
from rag.errors import AuthenticationError, ConfigurationError
from rag.settings import OidcSettings

#: a JWKS fetched from a URL is trusted this long before it is fetched again.
_JWKS_TTL_S = 300.0
#: an unknown key id triggers at most one refetch in this many seconds.
_REFETCH_S = 30.0


class OidcVerifier:
    """Verifies JWTs against one issuer's keys."""

    def __init__(self, settings: OidcSettings) -> None:
        if not settings.issuer or not settings.audience:
            raise ConfigurationError(
                "OIDC needs auth.oidc.issuer and auth.oidc.audience",
                hint="set both, as your identity provider issues them",
            )
        if (settings.jwks_file is None) == (settings.jwks_url is None):
            raise ConfigurationError(
                "OIDC needs exactly one of auth.oidc.jwks_file and auth.oidc.jwks_url"
            )
        self.settings = settings
        self._keys: jwt.PyJWKSet | None = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def _load(self) -> jwt.PyJWKSet:
        s = self.settings
        try:
            if s.jwks_file is not None:
                data: Any = json.loads(s.jwks_file.read_text())
            else:
                assert s.jwks_url is not None
                response = httpx.get(s.jwks_url, timeout=10.0, follow_redirects=False)
                response.raise_for_status()
                data = response.json()
            return jwt.PyJWKSet.from_dict(data)
        except (OSError, ValueError, httpx.HTTPError, jwt.PyJWTError) as exc:
            where = s.jwks_file or s.jwks_url
            raise AuthenticationError(
                f"the identity provider's keys could not be read from {where}: {exc}",
                hint="check auth.oidc.jwks_file or jwks_url",
            ) from exc

    def _key_set(self, *, refresh: bool = False) -> jwt.PyJWKSet:
        with self._lock:
            now = time.monotonic()
            stale = self.settings.jwks_url is not None and now - self._fetched > _JWKS_TTL_S
            may_refresh = refresh and now - self._fetched > _REFETCH_S
            if self._keys is None or stale or may_refresh:
                self._keys = self._load()
                self._fetched = now
            return self._keys

    def _signing_key(self, token: str) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise AuthenticationError("the bearer token is not a JWT") from exc
        for refresh in (False, True):
            keys = self._key_set(refresh=refresh)
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise AuthenticationError("the token is signed with an unknown key")

    def authenticate(self, token: str) -> Principal:
        """The principal a valid token names; AuthenticationError otherwise."""
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=list(s.algorithms),
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("the token has expired", hint="sign in again") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is not valid: {exc}") from exc
        groups = _claim_list(claims.get(s.groups_claim))
        scopes = {v for v in _claim_list(claims.get(s.scopes_claim)) if v in SCOPES}
        return Principal(
            name=str(claims.get("preferred_username") or claims["sub"]),
            groups=frozenset(groups),
            scopes=frozenset(scopes or s.default_scopes),
            kind="oidc",
        )


def _claim_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,\s]+", value) if v]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []
