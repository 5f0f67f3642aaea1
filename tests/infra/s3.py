"""An S3 server on loopback for the tests: moto in server mode, spoken to over real HTTP.

The credentials are dummies (moto accepts any); `env()` gives the standard AWS variables that Easel's
S3 store reads, and `bucket()` creates a fresh bucket per test.
"""

from __future__ import annotations

import importlib.util
import secrets
from dataclasses import dataclass, field
from typing import Any

INSTALL_HINT = 'pip install "moto[server]"'
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def missing_reason() -> str | None:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        return f"moto's S3 server is not installed ({INSTALL_HINT})"
    return None


@dataclass
class S3Server:
    endpoint: str = ""
    _server: Any = field(default=None, repr=False)

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self._server._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "EASEL_S3_ENDPOINT": self.endpoint}

    def bucket(self) -> str:
        """A new, empty bucket (created over HTTP with a plain signed request)."""
        import httpx2
        import obstore
        from obstore.store import S3Store

        name = f"easel-{secrets.token_hex(6)}"
        httpx2.put(f"{self.endpoint}/{name}").raise_for_status()  # CreateBucket (moto does not check signatures)
        store = S3Store(
            name,
            endpoint=self.endpoint,
            access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region=CREDENTIALS["AWS_REGION"],
            client_options={"allow_http": True},
        )
        obstore.put(store, ".easel-bucket", b"")  # proves the bucket answers before a test uses it
        obstore.delete(store, ".easel-bucket")
        return name
