"""Money: estimate_cost, the ledger behind every call, budgets that cannot be overrun, `easel-mcp usage`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio


def _settings(workspace: Path, fake: FakeOpenAIImages, **kw: object) -> Settings:
    return Settings(
        workspace=workspace, openai_api_key="sk-test", openai_base_url=fake.base_url, retry_base_delay_s=0.01, **kw
    )  # type: ignore[arg-type]


async def test_four_landscape_images_at_high_quality(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(
            await client.call_tool(
                "estimate_cost",
                {"operation": "generate", "size": "landscape", "quality": "high", "n": 4, "model": "gpt-image-1"},
            )
        )
    assert data["total_usd"] == pytest.approx(4 * 6208 * 40 / 1e6)  # 4 x $0.248: OpenAI lists $0.25 each
    assert data["size"] == "1536x1024" and data["breakdown"]["image_output"]["tokens"] == 4 * 6208
    assert data["price_source"] and data["price_as_of"] == "2026-11-25"
    assert data["min_usd"] is None


async def test_auto_quality_gives_min_and_max(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        data = structured(await client.call_tool("estimate_cost", {"operation": "generate", "model": "gpt-image-2"}))
    assert data["min_usd"] < data["total_usd"] < data["max_usd"]


async def test_estimate_for_inpaint_and_outpaint_uses_the_real_geometry(offline_settings: Settings) -> None:
    (offline_settings.workspace_path() / "p.png").write_bytes(png((1200, 800)))
    async with Client(build_server(offline_settings)) as client:
        inpaint = structured(
            await client.call_tool(
                "estimate_cost",
                {
                    "operation": "inpaint",
                    "images": ["p.png"],
                    "regions": [{"x": 0, "y": 0, "width": 9, "height": 9}],
                    "quality": "high",
                },
            )
        )
        outpaint = structured(
            await client.call_tool(
                "estimate_cost",
                {
                    "operation": "outpaint",
                    "images": ["p.png"],
                    "aspect_ratio": "16:9",
                    "model": "gpt-image-2",
                    "prompt": "x",
                    "quality": "low",
                },
            )
        )
        dry = structured(
            await client.call_tool(
                "outpaint",
                {
                    "image": "p.png",
                    "prompt": "x",
                    "aspect_ratio": "16:9",
                    "model": "gpt-image-2",
                    "quality": "low",
                    "dry_run": True,
                },
            )
        )
    assert inpaint["size"] == "1536x1024" and inpaint["breakdown"]["image_input"]["tokens"] == 65 + 129 * 2
    assert outpaint["geometry"]["canvas_size"] == [1422, 800]
    assert outpaint["size"] == dry["size"] and outpaint["total_usd"] == pytest.approx(dry["estimated_cost_usd"])


async def test_every_call_states_its_cost_and_usage_agrees(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    (workspace_dir / "a.png").write_bytes(png((1024, 1024)))
    async with Client(build_server(_settings(workspace_dir, fake_openai))) as client:
        costs = [
            structured(await client.call_tool(name, args))["cost_usd"]
            for name, args in [
                ("generate_image", {"prompt": "a", "quality": "high", "size": "landscape", "n": 2}),
                ("generate_image", {"prompt": "b", "model": "gpt-image-2", "size": "2048x2048", "quality": "medium"}),
                ("edit_image", {"prompt": "c", "images": ["a.png"], "input_fidelity": "high", "quality": "low"}),
                (
                    "inpaint",
                    {
                        "image": "a.png",
                        "prompt": "d",
                        "regions": [{"x": 1, "y": 1, "width": 50, "height": 50}],
                        "quality": "low",
                    },
                ),
            ]
        ]
    assert all(c and c > 0 for c in costs)
    assert sum(costs) == pytest.approx(fake_openai.charged_usd, rel=1e-6)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env["EASEL_WORKSPACE"] = str(workspace_dir)
    out = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "usage", "--json", "--by", "model"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["calls"] == 4 and report["images"] == 5
    assert report["cost_usd"] == pytest.approx(fake_openai.charged_usd, rel=1e-6)
    assert {g["key"] for g in report["groups"]} == {"gpt-image-1.5", "gpt-image-2"}
    text = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "usage", "--since", "7d"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "4 calls, 5 images" in text


async def test_usage_resource(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    async with Client(build_server(_settings(workspace_dir, fake_openai, daily_budget_usd=5.0))) as client:
        structured(await client.call_tool("generate_image", {"prompt": "a", "quality": "low"}))
        read = await client.read_resource("easel://usage")
    body = json.loads(read.contents[0].text)
    assert body["today"]["calls"] == 1
    assert body["budget_left_usd"]["today"] == pytest.approx(5.0 - fake_openai.charged_usd)


async def test_per_call_limit_refuses_before_any_request(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    settings = _settings(workspace_dir, fake_openai, max_cost_per_call_usd=0.10)
    async with Client(build_server(settings)) as client:
        text = error_text(await client.call_tool("generate_image", {"prompt": "x", "quality": "high", "n": 2}))
        assert fake_openai.requests == []
        assert "could cost up to $0.3994" in text and "EASEL_MAX_COST_PER_CALL_USD" in text
        assert "Cheaper options that fit: quality=low" in text
        structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low"}))
    assert len(fake_openai.requests) == 1


async def test_daily_budget_stops_a_sequence_of_calls(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    settings = _settings(workspace_dir, fake_openai, daily_budget_usd=0.50)
    results = []
    async with Client(build_server(settings)) as client:
        for _ in range(6):
            results.append(await client.call_tool("generate_image", {"prompt": "x", "quality": "high"}))
    ok = [r for r in results if not r.is_error]
    assert len(ok) == 3  # 3 x $0.133 fits in $0.50; the 4th could overrun
    assert "daily budget" in error_text(results[3])
    assert fake_openai.charged_usd <= 0.50


async def test_parallel_calls_never_overrun_the_budget(workspace_dir: Path) -> None:
    with FakeOpenAIImages(latency_s=0.3) as fake:
        settings = _settings(workspace_dir, fake, daily_budget_usd=0.40, max_concurrency=8)
        outcomes = []
        async with Client(build_server(settings)) as client:

            async def one() -> None:
                outcomes.append(
                    await client.call_tool("generate_image", {"prompt": "x", "quality": "high", "size": "square"})
                )

            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(one)
        assert sum(not r.is_error for r in outcomes) == 3
        assert len(fake.requests) == 3 and fake.charged_usd <= 0.40


async def test_dry_run_sends_nothing_and_writes_nothing(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    settings = _settings(workspace_dir, fake_openai, max_cost_per_call_usd=0.01)
    server = build_server(settings)
    async with Client(server) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "high", "dry_run": True}))
    assert data["dry_run"] and data["images"] == [] and data["estimated_cost_usd"] > 0.1
    assert any("would be refused" in w for w in data["warnings"])
    assert fake_openai.requests == []
    assert not any(p.suffix in (".png", ".json") for p in workspace_dir.rglob("*"))
    assert server.studio.ledger.path.exists() is False or server.studio.ledger.rows() == []


async def test_cost_is_the_estimate_when_usage_is_missing(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    from tests.fakes.openai_images import Scripted

    fake_openai.script.append(Scripted(200, json={"created": 1, "data": [{"b64_json": _b64png()}]}))
    async with Client(build_server(_settings(workspace_dir, fake_openai))) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "size": "square"}))
    assert data["usage"] is None and data["cost_is_estimate"] is True
    assert data["cost_usd"] == data["estimated_cost_usd"] and "estimated" in data["cost_note"]


def _b64png() -> str:
    import base64

    return base64.b64encode(png((1024, 1024))).decode()
