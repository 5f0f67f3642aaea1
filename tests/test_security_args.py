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
    assert cached == listed, "schemas/tools.json is stale: run python -m easel_mcp.schemas.export"
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
