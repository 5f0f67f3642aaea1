"""Hostile arguments (issue 13): unknown tool arguments, overflowing or NUL-bearing filters, unknown models.

Each test failed before its fix: `qualty` ran at quality auto and `dry_runn: true` spent real money,
validation errors carried pydantic's internals, filters crashed with bare errors, and unknown model
names on the openai and azure providers went upstream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from jsonschema import Draft202012Validator
from mcp import Client

from easel_mcp.app import build_server, tool_schemas
from easel_mcp.settings import Settings
from easel_mcp.tool_cache import cached_listing
from tests.fakes import openai_validation as val
from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio
PYDANTIC_INTERNALS = ("pydantic.dev", "type=", "input_value", "input_type", "validation error for")


def _openai(workspace: Path, fake: FakeOpenAIImages, **kw: Any) -> Settings:
    return Settings(workspace=workspace, openai_api_key="sk-test", openai_base_url=fake.base_url, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ 16: unknown and invalid tool arguments


async def test_every_tool_schema_forbids_unknown_arguments_and_is_plain_json_schema(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        listed = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    built = await anyio.to_thread.run_sync(tool_schemas)
    cached = {t["name"]: t["inputSchema"] for t in cached_listing() or []}
    assert set(cached) - set(listed) == {"save_mask"}  # app-only: listed to hosts that declare MCP Apps
    assert {k: v for k, v in cached.items() if k in listed} == listed, "stale: python -m easel_mcp.schemas.export"
    for name, schema in {**built, **listed}.items():
        Draft202012Validator.check_schema(schema)
        assert schema.get("additionalProperties") is False, name
        for nested in schema.get("$defs", {}).values():
            if nested.get("type") == "object":
                assert nested.get("additionalProperties") is False, (name, nested.get("title"))
    for path in (Path(__file__).parents[1] / "schemas").glob("*.input.json"):
        assert json.loads(path.read_text())["additionalProperties"] is False, path.name


async def test_a_misspelt_argument_is_refused_with_the_closest_name_before_any_request(
    workspace_dir: Path, fake_openai: FakeOpenAIImages
) -> None:
    async with Client(build_server(_openai(workspace_dir, fake_openai))) as client:
        qualty = error_text(await client.call_tool("generate_image", {"prompt": "x", "qualty": "low"}))
        dry = error_text(await client.call_tool("generate_image", {"prompt": "x", "dry_runn": True}))
        other = error_text(await client.call_tool("list_images", {"xyzzy": 1}))
    assert "unknown argument 'qualty' (did you mean 'quality'?)" in qualty
    assert "unknown argument 'dry_runn' (did you mean 'dry_run'?)" in dry
    assert "unknown argument 'xyzzy'" in other and "query" in other  # no close name: the valid ones
    assert fake_openai.requests == [] and fake_openai.charged_usd == 0
    assert not any(p.suffix in (".png", ".json") for p in workspace_dir.rglob("*"))


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("generate_image", {"prompt": "x", "n": 40}, "'n': must be less than or equal to 10"),
        ("generate_image", {"prompt": "x", "preview": "big"}, "'preview': must be 'auto', 'none' or 'full'"),
        ("generate_image", {"prompt": "x", "n": "many"}, "'n': must be a valid integer"),
        ("generate_image", {}, "missing required argument 'prompt'"),
        (
            "inpaint",
            {"image": "a.png", "prompt": "x", "regions": [{"x": 1, "y": 1, "wdth": 5, "height": 5}]},
            "unknown field 'wdth' in regions[0] (did you mean 'width'?)",
        ),
        ("outpaint", {"image": "a.png", "prompt": "x", "left": -3}, "'left': must be greater than or equal to 0"),
    ],
)
async def test_validation_errors_name_the_field_and_what_is_allowed_without_pydantic_internals(
    offline_settings: Settings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(offline_settings)) as client:
        text = error_text(await client.call_tool(tool, arguments))
    assert expected in text, text
    assert not any(bit in text for bit in PYDANTIC_INTERNALS), text


async def test_valid_calls_still_work(offline_settings: Settings) -> None:
    (offline_settings.workspace_path() / "a.png").write_bytes(png((64, 64)))
    async with Client(build_server(offline_settings)) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "dry_run": True}))
        assert data["dry_run"] is True
        assert structured(await client.call_tool("list_images", {"limit": 5}))


def test_the_cli_reports_a_bad_argument_as_exit_2(workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from easel_mcp.cli_tools import EXIT_INVALID, run_tool

    code = run_tool("generate_image", {"prompt": "x", "qualty": "low"}, workspace=str(workspace_dir), as_json=False)
    err = capsys.readouterr().err
    assert code == EXIT_INVALID and "did you mean 'quality'?" in err
    assert "Traceback" not in err and not any(bit in err for bit in PYDANTIC_INTERNALS)


# ------------------------------------------------------------------ 15: overflowing or NUL-bearing filters

BAD_FILTERS = [
    ({"since": "9999999999d"}, "out of range"),
    ({"since": "99999999999999999999999.5w"}, "out of range"),
    ({"since": "0001-01-01T00:00:00+14:00"}, "out of range"),
    ({"query": "a\u0000b"}, "NUL character"),
    ({"query": "kite\u0000 sea"}, "NUL character"),
    ({"model": "\u0000"}, "NUL character"),
    ({"query": "\ud800"}, "lone surrogate"),
]


@pytest.mark.parametrize(("arguments", "expected"), BAD_FILTERS)
async def test_list_images_refuses_overflowing_or_nul_filters_clearly(
    offline_settings: Settings, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(offline_settings)) as client:
        structured(await client.call_tool("generate_image", {"prompt": "a kite over the sea"}))
        text = error_text(await client.call_tool("list_images", arguments))
        assert structured(await client.call_tool("list_images", {"query": "kite", "since": "7d"}))["images"]
    assert expected in text, text
    assert "cursor" not in text and not text.rstrip().endswith("list_images")  # not a bare error


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_image", {"id": "\ud800"}),
        ("get_job", {"job_id": "\ud800"}),
        ("get_image", {"id": "abc\u0000"}),
        ("generate_image", {"prompt": "a kite\u0000", "dry_run": True}),
        ("inpaint", {"image": "a\u0000.png", "prompt": "x", "regions": [{"x": 0, "y": 0, "width": 1, "height": 1}]}),
    ],
)
async def test_nul_or_surrogates_in_any_argument_are_clear_errors(
    offline_settings: Settings, tool: str, arguments: dict[str, Any]
) -> None:
    async with Client(build_server(offline_settings)) as client:
        text = error_text(await client.call_tool(tool, arguments))
    assert "NUL character" in text or "lone surrogate" in text, text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=%00", "NUL character"),
        ("q=kite%00sea", "NUL character"),
        ("model=%00", "NUL character"),
        ("tool=%00", "NUL character"),
        ("since=9999999999d", "out of range"),
        ("since=0001-01-01T00:00:00%2B14:00", "out of range"),
        ("limit=%00", "limit must be a whole number"),
    ],
)
def test_the_gallery_api_answers_400_to_bad_filters(workspace_dir: Path, query: str, expected: str) -> None:
    from starlette.testclient import TestClient

    from easel_mcp.gallery.app import build_gallery_app
    from easel_mcp.workspace import Workspace

    ws = Workspace.open(workspace_dir)
    app = build_gallery_app(ws, ws.state_dir / "ledger.sqlite3", None)
    with TestClient(app, base_url="http://127.0.0.1:8123", raise_server_exceptions=False) as client:
        for path in ("/api/images", "/api/spend") if query.startswith("since") else ("/api/images",):
            answer = client.get(f"{path}?{query}")
            assert answer.status_code == 400, (path, answer.text)
            assert expected in answer.json()["error"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["usage", "--since", "9999999999d"], "out of range"),
        (["usage", "--since", "0001-01-01T00:00:00+14:00"], "out of range"),
        (["images", "--query", "kite\udcff"], "lone surrogate"),  # argv bytes that are not UTF-8
    ],
)
def test_the_cli_says_what_is_wrong_with_a_filter(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    from click.testing import CliRunner

    from easel_mcp.commands import cli

    monkeypatch.setenv("EASEL_WORKSPACE", str(workspace_dir))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert expected in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------ 17: unknown models


@pytest.fixture
def _no_custom_models() -> Any:
    """Models files change process-wide catalog state: leave none behind for other tests."""
    from easel_mcp.catalog.custom import load_models_file

    yield
    load_models_file(None)


@pytest.mark.parametrize("provider", ["openai", "azure"])
async def test_unknown_models_are_refused_locally_on_openai_and_azure(
    workspace_dir: Path, provider: str, _no_custom_models: None
) -> None:
    from tests.fakes.azure_openai import FakeAzureOpenAI

    with FakeOpenAIImages() as openai, FakeAzureOpenAI() as azure:
        settings = Settings(
            workspace=workspace_dir,
            provider=provider,  # type: ignore[arg-type]
            openai_api_key="sk-test",  # type: ignore[arg-type]
            openai_base_url=openai.base_url,
            azure_endpoint=azure.endpoint,
            azure_api_key=azure.azure_key,  # type: ignore[arg-type]
        )
        async with Client(build_server(settings)) as client:
            text = error_text(await client.call_tool("generate_image", {"prompt": "x", "model": "gpt-image-9"}))
            estimate = error_text(
                await client.call_tool("estimate_cost", {"operation": "generate", "model": "gpt-imge-2"})
            )
        assert openai.requests == [] and azure.requests == []
    assert "'gpt-image-9' is not in Easel's catalog" in text and "gpt-image-1.5" in text and "gpt-image-2" in text
    assert "EASEL_MODELS_FILE" in text and '"like"' in text
    assert "did you mean 'gpt-image-2'?" in estimate


async def test_gateways_pass_unknown_models_through_and_say_so(workspace_dir: Path) -> None:
    from tests.fakes.gateway import FakeGateway

    with FakeGateway(models={"house-model"}) as gateway:
        settings = Settings(
            workspace=workspace_dir,
            provider="compatible",
            base_url=gateway.base_url,
            api_key="sk-test",  # type: ignore[arg-type]
        )
        async with Client(build_server(settings)) as client:
            data = structured(
                await client.call_tool("generate_image", {"prompt": "x", "model": "house-model", "size": "1024x1024"})
            )
    assert any("compatible provider passes it to the upstream as named" in w for w in data["warnings"])


async def test_a_models_file_adds_a_model_without_a_release(
    workspace_dir: Path, tmp_path: Path, _no_custom_models: None
) -> None:
    models = tmp_path / "models.json"
    models.write_text(
        json.dumps(
            {
                "gpt-image-2-2027-01-15": {"like": "gpt-image-2", "prices": {"image_out": 36}},
                "house-image": {
                    "family": "gpt-image-1",
                    "sizes": {"fixed": ["1024x1024", "1536x1024"]},
                    "qualities": ["low", "high", "auto"],
                    "prices": {
                        "text_in": 5,
                        "image_in": 8,
                        "image_out": 32,
                        "output_tokens": "table",
                        "table": {"low": {"1024x1024": 300, "1536x1024": 450}, "high": {"1024x1024": 4200}},
                    },
                },
            }
        )
    )
    with FakeOpenAIImages(models=[*val.DEFAULT_MODELS, "gpt-image-2-2027-01-15"]) as fake:
        settings = _openai(workspace_dir, fake, models_file=models)
        async with Client(build_server(settings)) as client:
            data = structured(
                await client.call_tool(
                    "generate_image", {"prompt": "x", "model": "gpt-image-2-2027-01-15", "size": "2048x1152"}
                )
            )
            estimate = structured(
                await client.call_tool(
                    "estimate_cost",
                    {"operation": "generate", "model": "house-image", "size": "landscape", "quality": "low"},
                )
            )
            refused = error_text(
                await client.call_tool("generate_image", {"prompt": "x", "model": "house-image", "size": "1024x1536"})
            )
            listing = structured(await client.call_tool("list_models", {}))
    assert data["images"][0]["width"] == 2048 and data["cost_usd"] == pytest.approx(
        fake.charged_usd * 36 / 30, rel=0.01
    )
    assert estimate["total_usd"] == pytest.approx(450 * 32 / 1e6)  # no prompt: output only
    assert "1024x1536 is not valid for house-image" in refused
    names = {m["name"] for p in listing["providers"] for m in p["models"]}
    assert {"gpt-image-2-2027-01-15", "house-image"} <= names


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"m": {"like": "gpt-image-2", "qualty": ["low"]}}', "m.qualty: Extra inputs are not permitted"),
        ('{"m": {"family": "gpt-image-1"}}', "give sizes, qualities, or `like`"),
        ('{"m": {"like": "gpt-image-7"}}', "'gpt-image-7' is not a catalog model"),
        ('{"m": {"like": "gpt-image-2", "sizes": {"fixed": ["big"]}}}', "is not a size"),
        ("[1, 2]", "cannot be read"),
    ],
)
def test_a_bad_models_file_is_a_clear_configuration_error(
    tmp_path: Path, content: str, expected: str, _no_custom_models: None
) -> None:
    from easel_mcp.catalog.custom import load_models_file
    from easel_mcp.errors import ConfigurationError

    path = tmp_path / "models.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as info:
        load_models_file(path)
    assert expected in str(info.value) and "pydantic.dev" not in str(info.value)


def test_a_misspelt_setting_is_named_at_start_up(
    offline_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The same bug class as `qualty`: EASEL_DAILY_BUDGT_USD was ignored in silence, and the budget with it."""
    monkeypatch.setenv("EASEL_DAILY_BUDGT_USD", "0.30")
    with caplog.at_level("WARNING", logger="easel_mcp"):
        build_server(offline_settings)
    assert "EASEL_DAILY_BUDGT_USD is not an Easel setting (did you mean EASEL_DAILY_BUDGET_USD?)" in caplog.text
