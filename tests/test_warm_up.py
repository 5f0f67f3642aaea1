"""Warm-ups: an HTTP replica warms up before its port opens, and every server warms up in the background right
after the handshake, so the first calls do not pay for registering the tools, importing the call path and
building the provider's client (the SDK import)."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.http import warm_up
from easel_mcp.providers.openai import OpenAIProvider
from easel_mcp.settings import Settings
from easel_mcp.warmup import FIRST_CALL_MODULES
from tests.fakes.openai_images import FakeOpenAIImages

pytestmark = pytest.mark.anyio


def test_warm_up_registers_the_tools_and_imports_what_a_call_needs(workspace_dir: Path) -> None:
    server = build_server(Settings(workspace=workspace_dir, provider="offline"))
    warm_up(server)
    assert server._tools_registered
    assert all(name in sys.modules for name in (*FIRST_CALL_MODULES, "openai"))


async def test_after_the_handshake_the_server_warms_up_without_a_call(workspace_dir: Path) -> None:
    with FakeOpenAIImages() as fake:
        settings = Settings(workspace=workspace_dir, openai_api_key="sk-test", openai_base_url=fake.base_url)
        server = build_server(settings)
        assert not server.warm_up.started  # start-up stays lean: nothing before the handshake
        async with Client(server) as client:
            await client.list_tools()
            with anyio.fail_after(60):
                await server.warm_up.done.wait()
            provider = server.studio.provider()
            assert isinstance(provider, OpenAIProvider) and provider._client is not None  # the SDK's client is built
            assert server._tools_registered and fake.requests == []  # no call was made, nothing was sent
            result = await client.call_tool("generate_image", {"prompt": "a kite", "size": "1024x1024"})
            assert not result.is_error
