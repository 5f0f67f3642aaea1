"""The gallery of a team deployment (OAuth): each person sees only their own images and spend.

The same OAuth tokens as the MCP endpoint (`identity.JwtVerifier`: signature, issuer, audience, expiry) and
the same scopes: a bearer header, or `?token=<access token>` once, which sets an HttpOnly cookie holding the token
until it expires (the token is checked again on every request, so any replica answers: no server-side session).
The token's subject picks the user's folder, `Workspace.for_user(sub)`, the one the MCP tools use; an id of
another user's image is simply 404 there, like any unknown id. Spend shows that user's ledger rows only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import RedirectResponse, Response

from easel_mcp.errors import ConfigurationError
from easel_mcp.gallery.app import _Gallery, gallery_routes
from easel_mcp.gallery.http_util import cookie_of, error_response, secured, wrong_host

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken, TokenVerifier
    from starlette.types import ASGIApp, Receive, Scope, Send

    from easel_mcp.service.local import UserAreas
    from easel_mcp.service.spend import LedgerSource
    from easel_mcp.workspace import Workspace

TOKEN_COOKIE = "easel_gallery_token"


class TeamGallery:
    """Authenticates every request with an OAuth access token and serves the gallery of the token's user."""

    def __init__(
        self,
        root: Workspace,
        ledger: LedgerSource,
        verifier: TokenVerifier,
        scopes: Sequence[str],
        *,
        secure_cookie: bool,
        allowed_hosts: Sequence[str] | None = None,
        areas: UserAreas | None = None,
    ) -> None:
        self.root, self.ledger, self.verifier = root, ledger, verifier
        self.areas = areas  # a server's per-user areas: the same workspace (and store) and index as its MCP tools
        self.scopes = tuple(scopes)
        self.secure_cookie = secure_cookie
        self.allowed_hosts = allowed_hosts
        self._apps: dict[str, ASGIApp] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return

        send_secured = secured(send)
        headers = Headers(scope=scope)
        refused = wrong_host(headers, self.allowed_hosts)
        if refused is not None:
            await refused(scope, receive, send_secured)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        token = given if given is not None else _bearer(headers) or _cookie(headers)
        access = await self.verifier.verify_token(token) if token else None
        if access is None:
            await _unauthorized(given is not None or bool(token))(scope, receive, send_secured)
            return
        if missing := [s for s in self.scopes if s not in access.scopes]:
            response = error_response(
                403, f"the token lacks the scope(s) {' '.join(missing)}: ask for a token with them"
            )
            response.headers["www-authenticate"] = f'Bearer error="insufficient_scope", scope="{" ".join(self.scopes)}"'
            await response(scope, receive, send_secured)
            return
        if given is not None:  # once: keep the token in a cookie, and take it out of the address bar
            await self._remember(scope, query, given, access)(scope, receive, send_secured)
            return
        try:
            app = await anyio.to_thread.run_sync(self._app_of, str(access.subject))
        except ConfigurationError as e:
            await error_response(500, str(e))(scope, receive, send_secured)
            return
        await app(scope, receive, send_secured)

    def _remember(self, scope: Scope, query: list[tuple[str, str]], token: str, access: AccessToken) -> Response:
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
        max_age = max(int(access.expires_at - time.time()), 0) if access.expires_at else None
        path = (scope.get("root_path") or "").rstrip("/") + "/"
        response.set_cookie(
            TOKEN_COOKIE,
            token,
            max_age=max_age,
            path=path,
            secure=self.secure_cookie,
            httponly=True,
            samesite="strict",
        )
        response.headers["cache-control"] = "no-store"
        return response

    def _app_of(self, user: str) -> ASGIApp:
        """The gallery of `user`'s own folder (created on first use, as the MCP tools do)."""
        with self._lock:
            if user not in self._apps:
                if self.areas is not None:  # the user's index (PostgreSQL in a team) and workspace (S3 with a store)
                    workspace, index = self.areas.workspace(user), self.areas.index(user)
                    self._apps[user] = gallery_routes(_Gallery(workspace, self.ledger, user=user, index=index))
                else:
                    self._apps[user] = gallery_routes(_Gallery(self.root.for_user(user), self.ledger, user=user))
            return self._apps[user]


def _bearer(headers: Headers) -> str | None:
    kind, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() or None if kind.lower() == "bearer" else None


def _cookie(headers: Headers) -> str | None:
    return cookie_of(headers, TOKEN_COOKIE) or None


def _unauthorized(token_given: bool) -> Response:
    if token_given:
        message = "the token is not valid here (expired, another issuer or audience, or a bad signature): get a new one"
        challenge = 'Bearer realm="easel", error="invalid_token"'
    else:
        message = "sign in: open the gallery with ?token=<your access token>, or send 'Authorization: Bearer <token>'"
        challenge = 'Bearer realm="easel"'
    response = error_response(401, message)
    response.headers["www-authenticate"] = challenge
    return response
