"""`easel-mcp gallery [--port N] [--open]`: serve the gallery page on loopback (or anywhere, with a token)."""

from __future__ import annotations

import socket
import sys
import webbrowser
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from easel_mcp.settings import Settings
    from easel_mcp.workspace import Workspace


def gallery_url(host: str, port: int, token: str | None) -> str:
    """The address a person opens; a wildcard bind is shown as localhost, the token goes in the query."""
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={quote(token, safe='')}" if token else "")


def run_gallery(host: str, port: int, open_browser: bool) -> int:
    """Serve the gallery until interrupted; return the exit status (2: refused configuration, 1: cannot bind).
    The URL (with the token when one is set) goes to stderr; stdout stays untouched."""
    import uvicorn

    from easel_mcp.errors import ConfigurationError
    from easel_mcp.gallery.app import build_gallery_app
    from easel_mcp.netguard import bound_hosts, is_loopback, uvicorn_log_config
    from easel_mcp.settings import Settings
    from easel_mcp.workspace import Workspace

    settings = Settings()
    token = settings.auth_token.get_secret_value().strip() if settings.auth_token else ""
    team = bool(settings.oauth_issuer)  # a team deployment: each person sees their own folder, with their token
    if not is_loopback(host) and not token and not team:
        print(
            f"easel-mcp gallery: refusing to serve on {host} without a token: anyone who can reach this address "
            "could see every image in the workspace. Set EASEL_AUTH_TOKEN (then open the printed URL, or send "
            "'Authorization: Bearer <token>') or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    try:
        workspace = Workspace.open(settings.workspace_path(), settings.input_dirs)
    except ConfigurationError as e:
        print(f"easel-mcp gallery: {e}", file=sys.stderr)
        return 2
    bind_host = host.strip("[]")
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_host, port))
    except OSError as e:
        sock.close()
        print(f"easel-mcp gallery: cannot listen on {host}:{port}: {e.strerror}; pick another --port", file=sys.stderr)
        return 1
    bound_port = sock.getsockname()[1]
    # A loopback bind may run without a token: it answers only to its own host:port (DNS-rebinding protection).
    allowed = bound_hosts(bind_host, bound_port) if is_loopback(host) else None
    try:
        app = (
            _team_app(settings, workspace, allowed)
            if team
            else build_gallery_app(
                workspace, workspace.state_dir / "ledger.sqlite3", token or None, allowed_hosts=allowed
            )
        )
    except ConfigurationError as e:
        sock.close()
        print(f"easel-mcp gallery: {e}", file=sys.stderr)
        return 2
    url = gallery_url(bind_host, bound_port, token or None)
    if team:
        url += "?token=<your access token>  (each person sees their own images)"
    print(f"Easel gallery of {workspace.root}\n  open {url}\n  (Ctrl+C to stop)", file=sys.stderr)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(),  # on stderr (stdout is never written), query strings redacted
        access_log=settings.log_level == "DEBUG",
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _team_app(settings: Settings, workspace: Workspace, allowed_hosts: Sequence[str] | None) -> ASGIApp:
    """The per-user gallery (EASEL_OAUTH_ISSUER set): the MCP endpoint's tokens, each user's own folder and spend."""
    from easel_mcp.gallery.team import TeamGallery
    from easel_mcp.identity import JwtVerifier, OAuthConfig
    from easel_mcp.storage.ports import open_ledger

    config = OAuthConfig.from_settings(settings)
    assert config is not None
    ledger = open_ledger(settings, workspace.state_dir)
    return TeamGallery(
        workspace,
        lambda: ledger,
        JwtVerifier(config),
        config.scopes,
        secure_cookie=config.public_url.startswith("https://"),
        allowed_hosts=allowed_hosts,
    )
