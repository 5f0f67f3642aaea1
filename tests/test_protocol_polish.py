"""Client mistakes are protocol errors that keep their reason, on 2025-11-25 and 2026-07-28 alike, and are
logged as one WARNING line; malformed JSON-RPC is -32600 (stdio and HTTP); resource list changes are
announced where they are declared."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR

from easel_mcp.app import build_server
from easel_mcp.http import build_http_app
from easel_mcp.settings import Settings
from tests.helpers import error_text
from tests.test_resumable import serving

MODES = ["legacy", "auto"]  # legacy: the 2025-11-25 handshake; auto: 2026-07-28 in process


def _client_mistakes_only_warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a client mistake is not a server error"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "easel_mcp"]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in warnings)
    return [r.getMessage() for r in warnings]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_prompts_get_refuses_with_invalid_params_and_the_reason(
    offline_settings: Settings, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(offline_settings), mode=mode) as client:  # type: ignore[arg-type]
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("product_shot", {})
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("no_such_prompt", {})
        ok = await client.get_prompt("product_shot", {"product": "a mug"})
    assert missing.value.error.code == INVALID_PARAMS and "product" in missing.value.error.message
    assert unknown.value.error.code == INVALID_PARAMS and "no_such_prompt" in unknown.value.error.message
    assert "a mug" in ok.messages[0].content.text  # type: ignore[union-attr]
    logged = _client_mistakes_only_warned(caplog)
    assert any("product" in m for m in logged) and any("no_such_prompt" in m for m in logged)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_an_unknown_tool_is_a_protocol_error(
    offline_settings: Settings, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(offline_settings), mode=mode) as client:  # type: ignore[arg-type]
        with pytest.raises(MCPError) as refused:
            await client.call_tool("generate_imagee", {"prompt": "x"})
    assert refused.value.error.code == INVALID_PARAMS and "generate_imagee" in refused.value.error.message
    assert any("generate_imagee" in m for m in _client_mistakes_only_warned(caplog))


def test_stdio_answers_malformed_json_rpc(workspace_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace_dir), EASEL_PROVIDER="offline", PYTHONUNBUFFERED="1")
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    lines = [
        json.dumps(init),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]),
        json.dumps({"jsonrpc": "1.0", "id": 3, "method": "tools/list"}),
        "this is not json",
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "prompts/get", "params": {"name": "nope"}}),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "easel_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd="/",
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join(lines).encode() + b"\n")
    proc.stdin.flush()
    answers = []
    while not answers or answers[-1].get("id") != 4:  # the last request's answer: every line was read
        line = proc.stdout.readline()
        assert line, "the server closed stdout early"
        answers.append(json.loads(line))
    _, err = proc.communicate(timeout=120)  # closes stdin: the server exits (the bound only stops a hang)
    errors = [a["error"] for a in answers if "error" in a]
    assert [e["code"] for e in errors] == [INVALID_REQUEST, INVALID_REQUEST, PARSE_ERROR, INVALID_PARAMS]
    assert "batch" in errors[0]["message"] and '"2.0"' in errors[1]["message"]
    assert errors[3]["message"] == "Unknown prompt: nope"
    stderr = err.decode()
    assert "Traceback" not in stderr and " ERROR " not in stderr and stderr.count(" WARNING ") == 4


def test_http_answers_malformed_json_rpc_with_invalid_request(offline_settings: Settings) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    good = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    app = build_http_app(build_server(offline_settings), "http", "127.0.0.1", None)
    with serving(app) as url:
        for version in ("2025-11-25", "2026-07-28"):
            for body in ({**good, "jsonrpc": "1.0"}, [good]):
                answer = httpx2.post(
                    url, content=json.dumps(body), headers={**headers, "MCP-Protocol-Version": version}
                )
                assert answer.status_code == 400, (version, body)
                assert answer.json()["error"]["code"] == INVALID_REQUEST, (version, answer.text)
        not_json = httpx2.post(url, content=b"{oops", headers=headers)
    assert not_json.json()["error"]["code"] == PARSE_ERROR


@pytest.mark.anyio
async def test_new_images_announce_a_resource_list_change_on_2026_07_28(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_capabilities.resources and client.server_capabilities.resources.list_changed
        async with client.listen(resources_list_changed=True) as subscription:
            await client.call_tool("generate_image", {"prompt": "a kite", "quality": "low"})
            with anyio.fail_after(60):  # generous: the event is published when the call returns
                event = await subscription.__anext__()
    assert isinstance(event, ResourcesListChanged)


@pytest.mark.anyio
async def test_missing_inputs_are_named_once(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        made = await client.call_tool("generate_image", {"prompt": "x", "quality": "low"})
        image_id = made.structured_content["images"][0]["id"]  # type: ignore[index]
        no_image = error_text(await client.call_tool("edit_image", {"prompt": "x", "images": ["nope.png"]}))
        no_mask = error_text(
            await client.call_tool("inpaint", {"image": image_id, "prompt": "x", "mask": "nomask.png"})
        )
    assert "the image must be a file in the workspace" in no_image
    assert "the mask must be a file in the workspace" in no_mask
    assert "the the" not in no_image + no_mask
