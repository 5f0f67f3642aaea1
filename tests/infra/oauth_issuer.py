"""A loopback OAuth 2.1 issuer made by the tests: RSA keys generated per run, RFC 8414 metadata and a JWKS
served on 127.0.0.1, and tokens minted on demand (also with a wrong key, issuer, audience or expiry).

    with OAuthIssuer() as issuer:
        token = issuer.token("alice", audience="http://127.0.0.1:8000/mcp")
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.server import serve, shutdown

Message = dict[str, Any]


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OAuthIssuer:
    def __init__(self, *, path: str = "") -> None:
        self.key = _new_key()
        self.kid = secrets.token_hex(8)
        self.path = path  # an issuer with a path, e.g. "/realms/team" (Keycloak's form)
        self.issuer = ""
        self.metadata_requests = 0
        self.jwks_requests = 0
        self._server: Any = None
        self._thread: Any = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> OAuthIssuer:
        self._server, self._thread, port = serve(self, "oauth-issuer")
        self.issuer = f"http://127.0.0.1:{port}{self.path}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            shutdown(self._server, self._thread)
            self._server = None

    def __enter__(self) -> OAuthIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ tokens

    def token(
        self,
        subject: str,
        *,
        audience: str,
        scope: str = "easel",
        expires_in: int = 3600,
        issuer: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + expires_in,
            "scope": scope,
            "client_id": "easel-tests",
            **(extra or {}),
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def rotate(self) -> None:
        """A new signing key under a new key id (clients holding the old keys must refetch)."""
        self.key, self.kid = _new_key(), secrets.token_hex(8)

    @staticmethod
    def stranger_key() -> rsa.RSAPrivateKey:
        return _new_key()

    # ------------------------------------------------------------------ ASGI

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == f"/.well-known/oauth-authorization-server{self.path}":
            self.metadata_requests += 1
            body: dict[str, Any] = {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}/jwks",
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "response_types_supported": ["code"],
            }
            status = 200
        elif path == f"{self.path}/jwks":
            self.jwks_requests += 1
            body, status = self.jwks(), 200
        else:
            body, status = {"error": "not found"}, 404
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})
