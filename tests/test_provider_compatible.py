"""CompatibleProvider against a fake gateway: URL answers, no usage, extra headers, download rules."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest

from easel_mcp.errors import AuthenticationFailed, ConfigurationError, UpstreamUnavailable
from easel_mcp.providers import download
from easel_mcp.providers.base import EditRequest, GenerateRequest, InputImage
from easel_mcp.providers.compatible import CompatibleProvider
from easel_mcp.providers.download import ImageDownloader
from easel_mcp.providers.openai import OpenAIProvider
from easel_mcp.settings import Settings
from tests.fakes.gateway import FakeGateway
from tests.fakes.openai_wire import Scripted
from tests.provider_support import Closing, clean_provider_env, closing, image, png

__all__ = ["clean_provider_env", "closing"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway(models={"gpt-image-1.5", "flux-pro-gateway"}) as fake:
        yield fake


def gen(model: str = "gpt-image-1.5", **kw: Any) -> GenerateRequest:
    return GenerateRequest(model=model, prompt="a lighthouse", size="1024x1024", quality="low", **kw)


def url_answer(url: str) -> Scripted:
    return Scripted(json={"created": 1700000000, "data": [{"url": url}]})


async def test_url_answers_without_usage_are_downloaded(
    gateway: FakeGateway, closing: Closing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EASEL_BASE_URL", gateway.base_url)
    monkeypatch.setenv("EASEL_API_KEY", "sk-test")
    monkeypatch.setenv("EASEL_EXTRA_HEADERS", '{"X-Title": "Easel", "HTTP-Referer": "https://easel.example"}')
    p = closing(CompatibleProvider.from_settings(Settings()))
    result = await p.generate(gen("flux-pro-gateway", n=2))
    assert gateway.violations == []
    [req] = gateway.requests
    assert req.path == "/v1/images/generations" and req.json is not None and req.json["model"] == "flux-pro-gateway"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.headers["x-title"] == "Easel" and req.headers["http-referer"] == "https://easel.example"
    assert result.usage is None
    assert sorted(result.images) == sorted(gateway.files.values()) and len(result.images) == 2
    assert image(result.images[0]).size == (1024, 1024)
    # the gateway's own origin gets its credentials with the download
    assert [d.headers.get("authorization") for d in gateway.downloads] == ["Bearer sk-test"] * 2
    assert all(d.headers.get("x-title") == "Easel" for d in gateway.downloads)


async def test_edits_and_base64_answers_with_usage(closing: Closing) -> None:
    with FakeGateway(url_answers=False, usage=True) as gateway:
        p = closing(CompatibleProvider(base_url=gateway.base_url, api_key="sk-test", extra_headers={"X-Tenant": "t1"}))
        first = png((1024, 1024))
        result = await p.edit(
            EditRequest(
                model="gpt-image-1.5",
                prompt="bluer",
                size="1024x1024",
                quality="low",
                images=(InputImage(first, "image-1.png", "image/png"),),
            )
        )
    assert gateway.violations == []
    assert gateway.last.path == "/v1/images/edits" and gateway.last.headers["x-tenant"] == "t1"
    assert [f.data for f in gateway.last.files["image[]"]] == [first]
    assert result.usage == gateway.usage_log[0] and gateway.downloads == []


async def test_without_a_key_no_authorization_is_sent(closing: Closing, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")  # the SDK would read it; the gateway must not see it
    with FakeGateway(api_key=None) as gateway:
        monkeypatch.setenv("EASEL_BASE_URL", gateway.base_url)
        monkeypatch.setenv("EASEL_EXTRA_HEADERS", "X-Team=imaging, X-Env: test")
        p = closing(CompatibleProvider.from_settings(Settings()))
        result = await p.generate(gen())
    assert "authorization" not in gateway.last.headers
    assert gateway.last.headers["x-team"] == "imaging" and gateway.last.headers["x-env"] == "test"
    assert all("authorization" not in d.headers for d in gateway.downloads)
    assert len(result.images) == 1 and gateway.violations == []


async def test_the_openai_provider_still_refuses_url_answers(gateway: FakeGateway, closing: Closing) -> None:
    p = closing(OpenAIProvider(api_key="sk-test", base_url=gateway.base_url))
    with pytest.raises(
        UpstreamUnavailable, match="it is not supported by the openai provider: use EASEL_PROVIDER=compatible"
    ) as info:
        await p.generate(gen())
    assert info.value.billed and gateway.downloads == []


async def test_a_wrong_key_names_easel_api_key(gateway: FakeGateway, closing: Closing) -> None:
    p = closing(CompatibleProvider(base_url=gateway.base_url, api_key="sk-wrong-key-123456"))
    with pytest.raises(AuthenticationFailed, match="check EASEL_API_KEY") as info:
        await p.generate(gen())
    assert "sk-wrong-key-123456" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/a.png", "only https URLs are fetched from hosts other than the gateway's"),
        ("ftp://example.com/a.png", "only https URLs are fetched (got ftp scheme)"),
        ("file:///etc/passwd", "only https URLs are fetched (got file scheme)"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 resolves to a non-public address"),
        ("https://10.1.2.3/a.png", "10.1.2.3 resolves to a non-public address"),
        ("https://[::1]:8443/a.png", "::1 resolves to a non-public address (::1)"),
        ("https://localhost:8443/a.png", "localhost resolves to a non-public address"),
        ("data:text/html;base64,PGgxPg==", "a data: URL must hold a base64 image"),
    ],
)
async def test_urls_off_the_gateway_are_checked(gateway: FakeGateway, closing: Closing, url: str, reason: str) -> None:
    gateway.script.append(url_answer(url))
    p = closing(CompatibleProvider(base_url=gateway.base_url, api_key="sk-test"))
    with pytest.raises(UpstreamUnavailable) as info:
        await p.generate(gen())
    assert "refused to download the image the gateway pointed to" in str(info.value)
    assert reason in str(info.value)
    assert info.value.billed and info.value.provider == "compatible"
    assert gateway.downloads == []


async def test_redirects_are_followed_at_most_three_times_and_rechecked(gateway: FakeGateway, closing: Closing) -> None:
    gateway.files["x.png"] = data = png((64, 64))
    p = closing(CompatibleProvider(base_url=gateway.base_url, api_key="sk-test"))
    gateway.script.append(url_answer(f"{gateway.origin}/redirect/3/x.png"))
    assert (await p.generate(gen())).images == [data]
    assert [d.path for d in gateway.downloads] == [
        "/redirect/3/x.png",
        "/redirect/2/x.png",
        "/redirect/1/x.png",
        "/files/x.png",
    ]
    gateway.script.append(url_answer(f"{gateway.origin}/redirect/4/x.png"))
    with pytest.raises(UpstreamUnavailable, match="more than 3 redirects"):
        await p.generate(gen())
    port = gateway.origin.rsplit(":", 1)[1]
    gateway.script.append(url_answer(f"{gateway.origin}/away?to=http://localhost:{port}/files/x.png"))
    with pytest.raises(UpstreamUnavailable, match="only https URLs are fetched from hosts other than the gateway's"):
        await p.generate(gen())


async def test_download_size_cap_missing_file_and_data_urls(gateway: FakeGateway, closing: Closing) -> None:
    gateway.files["big.png"] = png((256, 256))
    p = closing(CompatibleProvider(base_url=gateway.base_url, api_key="sk-test", max_download_bytes=100))
    gateway.script.append(url_answer(f"{gateway.origin}/files/big.png"))
    with pytest.raises(UpstreamUnavailable, match=r"over the 100 bytes limit"):
        await p.generate(gen())
    gateway.script.append(url_answer(f"{gateway.origin}/files/missing.png?sig=secret-token"))
    with pytest.raises(UpstreamUnavailable, match="HTTP 404") as info:
        await p.generate(gen())
    assert "secret-token" not in str(info.value)  # signed URLs: the query is never shown
    small = png((4, 4))
    gateway.script.append(url_answer("data:image/png;base64," + base64.b64encode(small).decode()))
    assert (await p.generate(gen())).images == [small]


async def test_gateway_credentials_go_only_to_the_gateway_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]  # no real DNS: gw.example is a public host

    monkeypatch.setattr(download, "_addresses", resolve)
    d = ImageDownloader(
        gateway_url="https://gw.example/v1", gateway_headers={"Authorization": "Bearer k"}, provider="compatible"
    )
    assert await d._check("https://gw.example/files/a.png") == {"Authorization": "Bearer k"}
    assert await d._check("https://gw.example:8443/files/a.png") == {}  # same host, other origin
    assert await d._check("https://8.8.8.8/a.png") == {}  # a public address: fetched without credentials


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EASEL_BASE_URL": "gateway.example/v1"}, "EASEL_BASE_URL must be an http(s) URL"),
        ({"EASEL_EXTRA_HEADERS": "{not json"}, "EASEL_EXTRA_HEADERS is not valid JSON"),
        ({"EASEL_EXTRA_HEADERS": "X-Only-Name"}, "EASEL_EXTRA_HEADERS: 'X-Only-Name' is not Name=value"),
        ({"EASEL_EXTRA_HEADERS": "Bad Name=1"}, "EASEL_EXTRA_HEADERS: 'Bad Name' is not a valid header name"),
    ],
)
def test_bad_gateway_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    monkeypatch.setenv("EASEL_BASE_URL", "https://gateway.example/v1")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        CompatibleProvider.from_settings(Settings())
