"""Who is calling: Easel as an OAuth 2.1 resource server (the MCP authorization spec).

With `EASEL_OAUTH_ISSUER` and `EASEL_PUBLIC_URL` set, every HTTP request needs a bearer JWT that the
issuer signed (keys from the JWKS named in the issuer's metadata), issued by that issuer, for this
server (`aud` = the public URL of the MCP endpoint), not expired, and carrying the scopes of
`EASEL_OAUTH_SCOPES`. The SDK serves the protected-resource metadata (RFC 9728) and answers 401/403
with `WWW-Authenticate`; this module only verifies tokens. The token's subject is the user.

Nothing here runs at start-up: the issuer's metadata and keys are fetched on the first request and
kept; an unknown key id refetches them (at most once a minute, so bad tokens cannot hammer the issuer).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier

from easel_mcp.errors import ConfigurationError

if TYPE_CHECKING:
    from mcp.server.auth.settings import AuthSettings

    from easel_mcp.settings import Settings

log = logging.getLogger("easel_mcp")

# Asymmetric algorithms only: a shared-secret (HS*) or `none` token is never accepted.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 30  # clock skew allowed on exp/nbf/iat
REFETCH_AFTER_S = 60.0  # an unknown key id refetches the keys at most this often
METADATA_PATHS = (".well-known/oauth-authorization-server", ".well-known/openid-configuration")
FETCH_LIMIT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    issuer: str
    public_url: str
    scopes: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthConfig | None:
        """The resource-server configuration, or None when OAuth is not configured."""
        if not settings.oauth_issuer:
            return None
        if not settings.public_url:
            raise ConfigurationError(
                "EASEL_OAUTH_ISSUER is set but EASEL_PUBLIC_URL is not: set it to the full URL of the MCP "
                "endpoint as clients reach it (for example https://easel.example.com/mcp); tokens must be "
                "issued for that audience."
            )
        for name, url in (("EASEL_OAUTH_ISSUER", settings.oauth_issuer), ("EASEL_PUBLIC_URL", settings.public_url)):
            _require_https(name, url)
        return cls(settings.oauth_issuer, settings.public_url, tuple(settings.oauth_scopes))

    def auth_settings(self) -> AuthSettings:
        from mcp.server.auth.settings import AuthSettings

        return AuthSettings(
            issuer_url=self.issuer,
            resource_server_url=self.public_url,
            required_scopes=list(self.scopes),
            validate_token_resource=False,  # the verifier checks `aud` itself
        )


def _require_https(name: str, url: str) -> None:
    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError(f"{name} must be an https:// URL (http:// only on loopback), got {url!r}")


def current_user() -> str | None:
    """The subject of the request's verified token (None without OAuth, or outside a request)."""
    token = get_access_token()
    return token.subject if token is not None else None


@dataclass
class JwtVerifier(TokenVerifier):
    """Verifies bearer JWTs against the issuer's published keys."""

    config: OAuthConfig
    timeout_s: float = 10.0
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = float("-inf")
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def verify_token(self, token: str) -> AccessToken | None:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            log.warning("refused a bearer token: %s", e)
            return None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            log.warning("refused a bearer token signed with %r (accepted: asymmetric algorithms)", algorithm)
            return None
        key = await self._key(header.get("kid"))
        if key is None:
            log.warning("refused a bearer token: no published key matches its key id %r", header.get("kid"))
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.config.public_url,
                issuer=self.config.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as e:
            log.warning("refused a bearer token: %s", e)
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self.config.public_url,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )

    async def _key(self, kid: object) -> Any | None:
        import httpx2
        import jwt

        async with self._lock:
            key = self._pick(kid)
            if key is None and time.monotonic() - self._fetched_at >= REFETCH_AFTER_S:
                self._fetched_at = time.monotonic()
                try:
                    self._keys = await self._fetch_keys()
                except (httpx2.HTTPError, jwt.PyJWTError, ValueError) as e:
                    log.warning("could not fetch the OAuth issuer's keys from %s: %s", self.config.issuer, e)
                    self._fetched_at = float("-inf")  # try again on the next request
                    return None
                key = self._pick(kid)
            return key

    def _pick(self, kid: object) -> Any | None:
        if isinstance(kid, str):
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    async def _fetch_keys(self) -> dict[str, Any]:
        import httpx2
        import jwt

        async with httpx2.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as http:
            metadata = await _metadata(http, self.config.issuer)
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError("the issuer's metadata names no jwks_uri")
            _require_https("jwks_uri", jwks_uri)
            response = await http.get(jwks_uri)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(_json(response)).keys
        return {key.key_id or f"#{i}": key for i, key in enumerate(keys)}


async def _metadata(http: Any, issuer: str) -> dict[str, Any]:
    """RFC 8414 metadata (or OpenID discovery), with the path inserted after the host as RFC 8414 says."""
    parts = urlsplit(issuer)
    base, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    candidates = [f"{base}/{well_known}{path}" for well_known in METADATA_PATHS]
    candidates.append(f"{issuer.rstrip('/')}/{METADATA_PATHS[1]}")  # OpenID's own form, for issuers with a path
    for url in dict.fromkeys(candidates):
        response = await http.get(url)
        if response.status_code == 200:
            metadata = _json(response)
            if metadata.get("issuer") != issuer:
                raise ValueError(f"the metadata at {url} names issuer {metadata.get('issuer')!r}, not {issuer!r}")
            return metadata
    raise ValueError(f"no authorization server metadata found for {issuer}")


def _json(response: Any) -> dict[str, Any]:
    if len(response.content) > FETCH_LIMIT_BYTES:
        raise ValueError(f"{response.url} answered more than {FETCH_LIMIT_BYTES} bytes")
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError(f"{response.url} did not answer a JSON object")
    return data


def _scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` (RFC 9068: space-separated) or `scp` (a list, as Entra ID and Okta send it)."""
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(s) for s in raw]
    return []
