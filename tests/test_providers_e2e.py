"""The same agent conversation against every provider: all five tools through the MCP client, each on
its own strict fake (OpenAI, Azure in both URL forms, a gateway answering with URLs and no usage,
Gemini), plus list_models telling the truth about each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.gateway import FakeGateway
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import structured
from tests.provider_support import clean_provider_env  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.anyio
PROVIDERS = ["openai", "azure-v1", "azure-dated", "compatible", "gemini", "offline"]


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        yield {
            "openai": stack.enter_context(FakeOpenAIImages()),
            "azure": stack.enter_context(FakeAzureOpenAI(deployments={"img15": "gpt-image-1.5"})),
            "gateway": stack.enter_context(FakeGateway(url_answers=True, usage=False)),
            "gemini": stack.enter_context(FakeGemini()),
        }


def _settings(workspace: Path, fakes: dict[str, Any], which: str) -> Settings:
    provider = which.split("-")[0]
    return Settings(
        workspace=workspace,
        provider=provider,
        retry_base_delay_s=0.01,
        openai_api_key="sk-test",
        openai_base_url=fakes["openai"].base_url,
        azure_endpoint=fakes["azure"].endpoint,
        azure_api_key="azure-test-key",
        azure_api_version="2025-04-01-preview" if which == "azure-dated" else None,
        azure_deployments="gpt-image-1.5=img15",
        base_url=fakes["gateway"].base_url,
        api_key="sk-test",
        gemini_api_key="gemini-test-key",
        gemini_base_url=fakes["gemini"].base_url,
    )


def _upstream(fakes: dict[str, Any], which: str) -> Any:
    return {
        "openai": fakes["openai"],
        "azure-v1": fakes["azure"],
        "azure-dated": fakes["azure"],
        "compatible": fakes["gateway"],
        "gemini": fakes["gemini"],
    }.get(which)


@pytest.mark.parametrize("which", PROVIDERS)
async def test_five_tools_on_every_provider(workspace_dir: Path, fakes: dict[str, Any], which: str) -> None:
    Image.linear_gradient("L").resize((1024, 1024)).convert("RGB").save(workspace_dir / "photo.png")
    server = build_server(_settings(workspace_dir, fakes, which))
    async with Client(server) as client:
        est = structured(await client.call_tool("estimate_cost", {"operation": "generate", "quality": "low"}))
        gen = structured(
            await client.call_tool("generate_image", {"prompt": "a lighthouse", "quality": "low", "size": "square"})
        )
        image_id = gen["images"][0]["id"]
        edit = structured(
            await client.call_tool("edit_image", {"prompt": "add a moon", "images": [image_id], "quality": "low"})
        )
        inpaint = structured(
            await client.call_tool(
                "inpaint",
                {
                    "image": "photo.png",
                    "prompt": "a boat",
                    "regions": [{"x": 100, "y": 600, "width": 300, "height": 200}],
                    "quality": "low",
                    "feather": 0,
                },
            )
        )
        outpaint = structured(
            await client.call_tool(
                "outpaint", {"image": "photo.png", "prompt": "more sea", "right": 256, "quality": "low"}
            )
        )
    provider = which.split("-")[0]
    for data in (gen, edit, inpaint, outpaint):
        assert data["provider"] == provider and len(data["images"]) == 1
        assert Path(data["images"][0]["path"]).is_file()
        assert data["cost_usd"] is not None or data["cost_note"]
    assert est["total_usd"] is not None or est["notes"]
    src = Image.open(workspace_dir / "photo.png").convert("RGB")
    out = Image.open(inpaint["images"][0]["path"]).convert("RGB")
    assert out.size == (1024, 1024)
    assert out.crop((0, 0, 1024, 590)).tobytes() == src.crop((0, 0, 1024, 590)).tobytes()  # kept exactly
    assert Image.open(outpaint["images"][0]["path"]).size == (1280, 1024)
    fake = _upstream(fakes, which)
    if fake is not None:
        assert fake.violations == [] and len(fake.requests) >= 4
    if provider == "compatible":
        assert gen["usage"] is None and gen["cost_is_estimate"] is True
    if provider == "gemini":
        assert any("guidance" in w for w in inpaint["warnings"])
    if provider == "azure":
        assert {r.deployment for r in fakes["azure"].requests} == {"img15"}


async def test_per_call_provider_choice_and_list_models(workspace_dir: Path, fakes: dict[str, Any]) -> None:
    server = build_server(_settings(workspace_dir, fakes, "openai"))
    async with Client(server) as client:
        listing = structured(await client.call_tool("list_models", {}))
        gem = structured(
            await client.call_tool("generate_image", {"prompt": "x", "provider": "gemini", "quality": "low"})
        )
        bad = await client.call_tool("generate_image", {"prompt": "x", "provider": "nope"})
    by_provider = {p["provider"]: p for p in listing["providers"]}
    assert set(by_provider) == {"openai", "azure", "gemini", "compatible", "offline"}
    assert by_provider["openai"]["default"] is True
    assert by_provider["gemini"]["default_model"] == "gemini-3.1-flash-image"
    assert (
        "webp" not in next(m for m in by_provider["azure"]["models"] if m["name"] == "gpt-image-1.5")["output_formats"]
    )
    gpt2 = next(m for m in by_provider["openai"]["models"] if m["name"] == "gpt-image-2")
    assert gpt2["status"] == "live" and gpt2["input_fidelity"] == [] and gpt2["prices"]["image_out_per_1m"] == 30.0
    retired = next(m for m in by_provider["openai"]["models"] if m["name"] == "gpt-image-1")
    assert retired["status"] == "retired" and retired["status_date"] == "2026-10-23"
    assert gem["provider"] == "gemini" and gem["model"] == "gemini-3.1-flash-image"
    assert bad.is_error and "not configured" in bad.content[0].text
