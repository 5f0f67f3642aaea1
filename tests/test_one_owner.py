"""One owner per fact (issue 14): one error tree, one MIME table, one image URI, one size parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError

from easel_mcp.app import build_server
from easel_mcp.errors import EaselError
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.settings import Settings
from easel_mcp.tools.common import tool_errors
from tests.helpers import error_text, png


def test_imaging_errors_are_easel_errors_and_become_tool_errors() -> None:
    err = ImagingError("supply a mask of 64x48")
    assert isinstance(err, EaselError) and isinstance(err, ValueError)
    assert str(err) == "supply a mask of 64x48"
    with pytest.raises(ToolError, match="supply a mask of 64x48"), tool_errors():
        raise err


def test_one_format_table_names_each_mime_type_once() -> None:
    from easel_mcp.imaging.formats import IMAGE_SUFFIXES, format_of, mime_of_file, mime_type
    from easel_mcp.imaging.io import mime_of

    assert mime_type("png") == mime_of("png") == "image/png"
    assert mime_type("jpg") == mime_of("jpg") == mime_of_file("fox.JPEG") == "image/jpeg"
    assert mime_of_file("thumb.webp") == "image/webp" and mime_of_file("notes.txt") == "application/octet-stream"
    assert format_of("a/b/fox-0123456789ab.jpg") == "jpeg" and format_of("README") is None
    assert set(IMAGE_SUFFIXES) == {".png", ".jpeg", ".jpg", ".webp"}


def test_one_image_uri_builder_and_parser() -> None:
    from easel_mcp.uris import ImageUri, display_uri, image_uri, parse_image_uri

    assert image_uri("0123456789ab") == "easel://images/0123456789ab"
    assert display_uri("0123456789ab") == "easel://images/0123456789ab/display"
    assert parse_image_uri(image_uri("0123456789ab")) == ImageUri("0123456789ab", display=False)
    assert parse_image_uri(display_uri("0123456789ab")) == ImageUri("0123456789ab", display=True)
    assert parse_image_uri("easel://usage") is None and parse_image_uri("0123456789ab") is None


def test_the_workspace_reads_the_display_uri_as_its_image(tmp_path: Path) -> None:
    from easel_mcp.uris import display_uri, image_uri
    from easel_mcp.workspace import Workspace

    ws = Workspace(tmp_path)
    saved = ws.write_image(png((8, 8)), ext="png", label="fox")
    assert ws.resolve_input(image_uri(saved.id)) == ws.resolve_input(display_uri(saved.id)) == saved.path


def test_times_keep_every_stored_format() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from easel_mcp.times import day_folder, index_time, ledger_time, parse_time, sidecar_time, wire_time

    at = datetime(2026, 11, 25, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert ledger_time(at) == "2026-11-25T09:30:00.000000Z"  # the ledger's column format: data on disk
    assert index_time(at) == "2026-11-25T09:30:00.000000+00:00"
    assert index_time(at.replace(tzinfo=None)) == "2026-11-25T10:30:00.000000+00:00"  # naive is UTC
    assert sidecar_time(at.astimezone(UTC)) == "2026-11-25T09:30:00+00:00"
    assert wire_time(at.timestamp() + 0.25) == "2026-11-25T09:30:00.250Z"
    assert day_folder(at) == day_folder(at.date()) == "2026-11-25"
    for text in (ledger_time(at), index_time(at), sidecar_time(at), wire_time(at.timestamp())):
        assert parse_time(text) == at


def test_sizes_parse_once_into_a_value_with_names() -> None:
    from easel_mcp.catalog.models import parse_size
    from easel_mcp.sizes import Size, format_size

    size = Size.parse("1536x1024")
    assert size == (1536, 1024) and size.width == 1536 and size.height == 1024 and size.pixels == 1536 * 1024
    assert parse_size("1024 × 1536") == Size(1024, 1536) and size.text == format_size(size) == "1536x1024"
    assert Size.parse("auto") is None and Size.parse("16x9x2") is None and Size.parse("-5x10") is None


def _callers(names: set[str]) -> dict[str, set[str]]:
    """Which modules of the server call each of `names` (`f(...)`, or `Cls.f(...)` written as "Cls.f")."""
    import ast

    import easel_mcp

    root = Path(easel_mcp.__file__).parent
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                name = func.id
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                name = f"{func.value.id}.{func.attr}"
            elif isinstance(func, ast.Attribute) and func.attr == "split" and node.args:
                arg = node.args[0]
                name = f"split({arg.value!r})" if isinstance(arg, ast.Constant) else ""
            else:
                continue
            if name in names:
                found.setdefault(name, set()).add(path.relative_to(root).as_posix())
    return found


def test_size_text_is_parsed_in_one_place() -> None:
    """A size is text only at the edges: the tool's argument (parsed once, at validation, into
    `Options.dimensions`) and a custom model file. The estimate, the provider request, the providers,
    inpaint's plan and the cheaper options read the value; `as_size` (which parses only what is still
    text) is called only by the entry points that also take a size written by hand."""
    assert _callers({"parse_size", "Size.parse", "as_size", "split('x')"}) == {
        "Size.parse": {"sizes.py", "catalog/validate.py"},  # sizes.py: the parser's own wrappers
        "parse_size": {"catalog/custom.py"},  # EASEL_MODELS_FILE's sizes
        "split('x')": {"sizes.py"},
        "as_size": {"catalog/estimate.py", "providers/base.py", "providers/gemini_sizes.py"},
    }


def test_stdio_fast_path_imports_no_command_line() -> None:
    import subprocess
    import sys

    names = "('click', 'easel_mcp.commands', 'easel_mcp.cli_tools')"
    code = f"import sys, easel_mcp.cli; print(sorted(m for m in {names} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.anyio
async def test_unknown_jobs_are_errors_of_the_tree_turned_into_tool_errors(offline_settings: Settings) -> None:
    async with Client(build_server(offline_settings)) as client:
        got = await client.call_tool("get_job", {"job_id": "0123456789abcdef", "wait_s": 0})
        cancelled = await client.call_tool("cancel_job", {"job_id": "0123456789abcdef"})
    assert "no job '0123456789abcdef' is known to this server" in error_text(got)
    assert "no running job '0123456789abcdef'" in error_text(cancelled)
