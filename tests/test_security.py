"""Hostile input: every path and image argument an agent can send gives a clear ToolError, never an
upstream request, never a crash; secrets never reach results, sidecars or logs."""

from __future__ import annotations

import io
import json
import logging
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages, Scripted
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio
GENERIC = "Error executing tool"


@pytest.fixture
def hostile_workspace(workspace_dir: Path, tmp_path: Path) -> Path:
    """A workspace seeded with every kind of bad file, plus a secret outside it."""
    ws = workspace_dir
    (tmp_path / "secret.png").write_bytes(png((64, 64)))
    (ws / "escape.png").symlink_to(tmp_path / "secret.png")
    (ws / "text.png").write_text("not an image")
    (ws / "good.png").write_bytes(png((256, 256)))
    (ws / "truncated.png").write_bytes(png((256, 256))[:300])
    (ws / "empty.png").write_bytes(b"")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "GIF")
    (ws / "anim.gif").write_bytes(buf.getvalue())
    (ws / "bomb.png").write_bytes(_png_header_only(200_000, 200_000))
    (ws / "mislabelled.webp").write_bytes(png((32, 32)))
    return ws


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims to be w x h (a decompression bomb's header), with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


ATTACKS = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "file:///etc/passwd",
    "escape.png",
    "text.png",
    "truncated.png",
    "empty.png",
    "bomb.png",
    "~/.ssh/id_rsa",
    "http://169.254.169.254/latest/meta-data",
    "https://example.com/x.png",
    "good.png\x00.txt",
    "a" * 5000,
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.png",
    ".easel/ledger.sqlite3",
    "easel://images/../../etc",
    "0123456789ab",
    "",
]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_each_attack_is_a_clear_tool_error(
    hostile_workspace: Path, fake_openai: FakeOpenAIImages, attack: str
) -> None:
    settings = Settings(workspace=hostile_workspace, openai_api_key="sk-test", openai_base_url=fake_openai.base_url)
    calls = [
        ("edit_image", {"prompt": "x", "images": [attack]}),
        ("edit_image", {"prompt": "x", "images": ["good.png"], "mask": attack}),
        ("inpaint", {"image": attack, "prompt": "x", "regions": [{"x": 0, "y": 0, "width": 5, "height": 5}]}),
        ("outpaint", {"image": attack, "prompt": "x", "right": 10}),
        ("estimate_cost", {"operation": "edit", "images": [attack]}),
    ]
    async with Client(build_server(settings)) as client:
        for name, args in calls:
            text = error_text(await client.call_tool(name, args))
            assert len(text) > len(f"{GENERIC} {name}: ") + 10, f"{name}({attack!r}) gave a bare error: {text}"
    assert fake_openai.requests == []


async def test_gif_and_mislabelled_files(hostile_workspace: Path, offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        # a still GIF is converted; a PNG named .webp is read by content
        structured(await client.call_tool("edit_image", {"prompt": "x", "images": ["anim.gif"]}))
        structured(await client.call_tool("edit_image", {"prompt": "x", "images": ["mislabelled.webp"]}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(min_size=0, max_size=300))
async def test_fuzzed_paths_never_crash_or_escape(
    hostile_workspace: Path, offline_settings: Settings, ref: str
) -> None:
    async with Client(build_server(offline_settings)) as client:
        result = await client.call_tool("edit_image", {"prompt": "x", "images": [ref]})
    if result.is_error:
        text = error_text(result)
        assert len(text) > len(f"{GENERIC} edit_image: ") + 10, text
    else:  # only a real image inside the workspace can be read
        inputs = json.loads(Path(structured(result)["images"][0]["path"]).with_suffix(".json").read_text())["inputs"]
        assert (hostile_workspace / inputs[0]["path"]).resolve().is_relative_to(hostile_workspace.resolve())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    x=st.integers(-5000, 5000),
    y=st.integers(-5000, 5000),
    w=st.integers(-10, 5000),
    h=st.integers(-10, 5000),
    grow=st.lists(st.integers(-100, 100_000), min_size=4, max_size=4),
)
async def test_fuzzed_geometry_never_crashes(
    hostile_workspace: Path, offline_settings: Settings, x: int, y: int, w: int, h: int, grow: list[int]
) -> None:
    async with Client(build_server(offline_settings)) as client:
        for name, args in [
            ("inpaint", {"image": "good.png", "prompt": "x", "regions": [{"x": x, "y": y, "width": w, "height": h}]}),
            (
                "outpaint",
                {
                    "image": "good.png",
                    "prompt": "x",
                    "left": grow[0],
                    "top": grow[1],
                    "right": grow[2],
                    "bottom": grow[3],
                },
            ),
        ]:
            result = await client.call_tool(name, args)
            if result.is_error:
                assert len(error_text(result)) > len(f"{GENERIC} {name}: ") + 10


async def test_secrets_never_reach_results_sidecars_or_logs(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-proj-SECRETSECRET1234567890"
    fake = fake_openai
    fake.api_key = key
    fake.script.append(
        Scripted(
            401,
            json={
                "error": {
                    "message": f"Incorrect API key provided: {key}.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
    )
    settings = Settings(workspace=workspace_dir, openai_api_key=key, openai_base_url=fake.base_url)
    caplog.set_level(logging.DEBUG)
    async with Client(build_server(settings)) as client:
        refused = await client.call_tool("generate_image", {"prompt": "x"})
        ok = await client.call_tool("generate_image", {"prompt": "y", "quality": "low"})
    everything = error_text(refused) + json.dumps(structured(ok)) + caplog.text
    everything += "".join(p.read_text(errors="ignore") for p in workspace_dir.rglob("*.json"))
    everything += (workspace_dir / ".easel" / "ledger.sqlite3").read_bytes().decode("latin-1")
    assert key not in everything and "SECRETSECRET" not in everything
    assert "OPENAI_API_KEY" in error_text(refused)
