"""Remote URLs as input images: only with EASEL_ALLOW_URLS, https, public addresses (checked again after
every redirect), size and time capped. No real network: the HTTP transport and DNS are stand-ins."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.providers import download
from easel_mcp.providers.download import ImageDownloader
from easel_mcp.settings import Settings
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio
ADDRESSES = {
    "images.example": ["93.184.215.14"],
    "internal.example": ["10.0.0.7"],
    "meta.example": ["169.254.169.254"],
    "v6.example": ["::1"],
}


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    async def fake_addresses(host: str, port: int) -> list[str]:
        return ADDRESSES.get(host, ["93.184.215.14"])

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        path = request.url.path
        if path == "/cat.png":
            return httpx2.Response(200, content=png((640, 480)), headers={"content-type": "image/png"})
        if path == "/to-internal":
            return httpx2.Response(302, headers={"location": "https://internal.example/secret.png"})
        if path == "/page":
            return httpx2.Response(200, content=b"<html>", headers={"content-type": "text/html"})
        if path == "/huge.png":
            return httpx2.Response(
                200, content=b"x", headers={"content-type": "image/png", "content-length": str(60 * 2**20)}
            )
        return httpx2.Response(404)

    def client(self: ImageDownloader) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), follow_redirects=False)
        return self._client

    monkeypatch.setattr(download, "_addresses", fake_addresses)
    monkeypatch.setattr(ImageDownloader, "client", property(client))
    return seen


async def test_urls_are_refused_unless_allowed(offline_settings: Settings, network: list[str]) -> None:
    async with Client(build_server(offline_settings)) as client:
        text = error_text(
            await client.call_tool("edit_image", {"prompt": "x", "images": ["https://images.example/cat.png"]})
        )
    assert "EASEL_ALLOW_URLS" in text and network == []


async def test_an_allowed_https_url_is_fetched_and_recorded(workspace_dir: Path, network: list[str]) -> None:
    settings = Settings(workspace=workspace_dir, provider="offline", allow_urls=True)
    async with Client(build_server(settings)) as client:
        data = structured(
            await client.call_tool("edit_image", {"prompt": "x", "images": ["https://images.example/cat.png"]})
        )
    assert data["images"][0]["width"] == 640
    sidecar = (Path(data["images"][0]["path"]).with_suffix(".json")).read_text()
    assert "https://images.example/cat.png" in sidecar


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://images.example/cat.png", "only https"),
        ("https://internal.example/cat.png", "non-public address (10.0.0.7)"),
        ("https://meta.example/latest", "non-public address"),
        ("https://v6.example/cat.png", "non-public address"),
        ("https://images.example/to-internal", "non-public address"),
        ("https://images.example/page", "not an image"),
        ("https://images.example/huge.png", "over the 50.0 MB limit"),
        ("ftp://images.example/cat.png", "is a URL"),
    ],
)
async def test_unsafe_urls_are_refused(workspace_dir: Path, network: list[str], url: str, expected: str) -> None:
    settings = Settings(workspace=workspace_dir, provider="offline", allow_urls=True)
    async with Client(build_server(settings)) as client:
        text = error_text(await client.call_tool("edit_image", {"prompt": "x", "images": [url]}))
    assert expected in text, text
    assert not any("internal.example" in u for u in network)
