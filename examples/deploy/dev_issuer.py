#!/usr/bin/env python3
"""A development OAuth issuer for trying a team deployment on one machine. NOT for production: it signs any
subject you ask for. Use your real identity provider (Auth0, Keycloak, Entra ID, ...) for a deployment.

    python dev_issuer.py serve --port 9400 --key key.pem           # metadata + JWKS on 127.0.0.1:9400
    python dev_issuer.py token --port 9400 --key key.pem --audience http://127.0.0.1:8100/mcp alice

The key file is created on first use; tokens are RS256 JWTs with the `easel` scope, valid for 12 hours.
Needs only what Easel itself installs (PyJWT with its cryptography backend).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "easel-dev"


def load_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def issuer_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def serve(port: int, key: rsa.RSAPrivateKey) -> None:
    issuer = issuer_url(port)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": KID, "use": "sig", "alg": "RS256"}
    documents = {
        "/.well-known/oauth-authorization-server": {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks",
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "response_types_supported": ["code"],
        },
        "/jwks": {"keys": [jwk]},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            document = documents.get(self.path)
            body = json.dumps(document if document is not None else {"error": "not found"}).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request on stderr
            sys.stderr.write(f"dev issuer: {format % args}\n")

    print(f"dev issuer on {issuer}", file=sys.stderr, flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def token(port: int, key: rsa.RSAPrivateKey, audience: str, subject: str, scope: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer_url(port), "sub": subject, "aud": audience, "iat": now, "exp": now + 12 * 3600}
    claims |= {"scope": scope, "client_id": "easel-dev"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["serve", "token"])
    parser.add_argument("subject", nargs="?", default="alice", help="the user a token is for (token)")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--key", type=Path, default=Path("dev-issuer-key.pem"))
    parser.add_argument("--audience", help="the MCP endpoint's public URL (token)")
    parser.add_argument("--scope", default="easel")
    args = parser.parse_intermixed_args()
    key = load_key(args.key)
    if args.command == "serve":
        serve(args.port, key)
        return 0
    if not args.audience:
        parser.error("token needs --audience (EASEL_PUBLIC_URL)")
    print(token(args.port, key, args.audience, args.subject, args.scope))
    return 0


if __name__ == "__main__":
    sys.exit(main())
