"""Issue 13, hostile workspaces and broken upstream answers: what was checked is what is sent, every
answered call settles its ledger row, a full disk is a clear error, start-up never crash-loops."""

from __future__ import annotations

import base64
import errno
import io
import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from easel_mcp.app import build_server
from easel_mcp.settings import Settings
from tests.fakes.openai_images import FakeOpenAIImages, Scripted
from tests.helpers import error_text, png, structured

pytestmark = pytest.mark.anyio

USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 10},
    "output_tokens": 272,
    "total_tokens": 282,
}


def _settings(workspace: Path, fake: FakeOpenAIImages, **kw: object) -> Settings:
    return Settings(
        workspace=workspace, openai_api_key="sk-test", openai_base_url=fake.base_url, retry_base_delay_s=0.01, **kw
    )  # type: ignore[arg-type]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def broken_png(width: int = 64, height: int = 64) -> bytes:
    """A PNG whose every chunk checksum is right but whose pixel data is far too short to decode."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + _chunk(b"IEND", b"")
    )


def gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, "GIF")
    return buf.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def answer(*images: bytes, usage: dict[str, Any] | None = None) -> Scripted:
    """A 200 answer of the fake carrying these bytes as its images (and a usage block)."""
    return Scripted(
        json={
            "created": 1700000000,
            "data": [{"b64_json": base64.b64encode(i).decode()} for i in images],
            "output_format": "png",
            "size": "1024x1024",
            "quality": "low",
            "usage": usage or USAGE,
        }
    )


def _images(workspace: Path) -> list[Path]:
    return [p for p in workspace.rglob("*.png") if ".easel" not in p.parts]


async def _generate(server: Any) -> Any:
    async with Client(server) as client:
        return await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "size": "square"})


# ---------------------------------------------------------------- 9: broken answers settle their row


@pytest.mark.parametrize(
    ("kind", "data"),
    [("undecodable png", broken_png()), ("gif", gif()), ("svg", SVG), ("over the pixel cap", broken_png(9000, 9000))],
    ids=["undecodable-png", "gif", "svg", "over-pixel-cap"],
)
async def test_a_billed_answer_that_cannot_be_saved_settles_its_row_and_says_what_it_cost(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, kind: str, data: bytes
) -> None:
    fake_openai.script.append(answer(data))
    server = build_server(_settings(workspace_dir, fake_openai))
    text = error_text(await _generate(server))
    [row] = server.studio.ledger.rows()
    assert row["status"] == "error" and row["billed"] == 1, kind
    assert row["usage"] == USAGE and row["request_id"] and row["cost_usd"] > 0
    assert "billed $" in text and row["request_id"] in text and "billed again" in text
    assert _images(workspace_dir) == []
    assert len(fake_openai.requests) == 1  # not retried: it would be billed twice


async def test_one_broken_image_of_two_keeps_the_good_one(workspace_dir: Path, fake_openai: FakeOpenAIImages) -> None:
    fake_openai.script.append(answer(png((1024, 1024)), broken_png()))
    server = build_server(_settings(workspace_dir, fake_openai))
    data = structured(await _generate(server))
    [image] = data["images"]
    assert Path(image["path"]).is_file()
    assert any("image 2 of the model's answer" in w.lower() and "not saved" in w for w in data["warnings"])
    [row] = server.studio.ledger.rows()
    assert row["status"] == "ok" and row["outputs"] == [image["relative_path"]] and row["usage"] == USAGE


@pytest.mark.parametrize("data", [[{"b64_json": "not base64!"}], []], ids=["bad-base64", "no-images"])
async def test_an_answer_without_usable_image_data_keeps_its_usage_in_the_ledger(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, data: list[dict[str, str]]
) -> None:
    body = {"created": 1700000000, "data": data, "usage": USAGE}
    fake_openai.script.extend([Scripted(json=body), Scripted(json=body)])  # a broken answer is retried once
    server = build_server(_settings(workspace_dir, fake_openai))
    text = error_text(await _generate(server))
    rows = server.studio.ledger.rows()
    assert [r["status"] for r in rows] == ["error", "error"] and all(r["billed"] == 1 for r in rows)
    assert all(r["usage"] == USAGE and r["cost_usd"] > 0 and r["cost_estimated"] == 0 for r in rows)
    assert "billed $" in text and rows[-1]["request_id"] in text


# ---------------------------------------------------------------- 10: a full disk


async def test_a_full_disk_while_saving_is_a_clear_error_and_the_row_is_settled(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.workspace import Workspace

    def full(self: Workspace, data: bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Workspace, "write_temp", full)
    server = build_server(_settings(workspace_dir, fake_openai))
    text = error_text(await _generate(server))
    assert "is full" in text and "free some space" in text and "billed $" in text
    [row] = server.studio.ledger.rows()
    assert row["status"] == "error" and row["billed"] == 1 and row["usage"] is not None
    assert row["cost_usd"] == pytest.approx(fake_openai.charged_usd)


async def test_a_full_disk_after_the_first_image_names_the_saved_one(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.workspace import Workspace

    real = Workspace.write_temp
    writes: list[int] = []

    def second_fails(self: Workspace, data: bytes) -> Path:
        writes.append(len(data))
        if len(writes) == 2:  # image 1, then image 2 (sidecars come after all images)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Workspace, "write_temp", second_fails)
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        result = await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "size": "square", "n": 2})
    text = error_text(result)
    [image] = _images(workspace_dir)
    image_id = image.stem.rsplit("-", 1)[1]
    assert f"Saved before the failure: {image_id}" in text and "billed $" in text
    [row] = server.studio.ledger.rows()
    assert row["status"] == "error" and row["outputs"] == [image.relative_to(workspace_dir.resolve()).as_posix()]


async def test_a_settle_that_fails_is_retried_and_never_left_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.ledger import Ledger
    from easel_mcp.service import settling

    monkeypatch.setattr(settling, "RETRY_DELAYS_S", (0.0,))
    real = Ledger.settle
    disk_full = [True]

    def settle(self: Ledger, *args: Any, **kwargs: Any) -> None:
        if disk_full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "settle", settle)
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "size": "square"}))
        assert any("could not record this call yet" in w for w in data["warnings"])
        assert [r["status"] for r in server.studio.ledger.rows()] == ["sent"]
        disk_full[0] = False  # space again: the shut-down writes what is pending
    [row] = server.studio.ledger.rows()
    assert row["status"] == "ok" and row["cost_usd"] == pytest.approx(fake_openai.charged_usd)


async def test_a_settle_that_fails_once_is_written_before_the_answer(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.ledger import Ledger
    from easel_mcp.service import settling

    monkeypatch.setattr(settling, "RETRY_DELAYS_S", (0.0,))
    real = Ledger.settle
    calls: list[int] = []

    def settle(self: Ledger, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "settle", settle)
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        data = structured(await client.call_tool("generate_image", {"prompt": "x", "quality": "low", "size": "square"}))
        [row] = server.studio.ledger.rows()
        assert row["status"] == "ok" and not any("could not record" in w for w in data["warnings"])


# ---------------------------------------------------------------- 18: inputs are decoded before sending


async def test_an_input_whose_pixels_do_not_decode_is_never_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages
) -> None:
    (workspace_dir / "broken.png").write_bytes(broken_png(1024, 1024))
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        result = await client.call_tool("edit_image", {"prompt": "x", "images": ["broken.png"], "quality": "low"})
    text = error_text(result)
    assert "broken.png" in text and "damaged" in text and "re-export" in text
    assert fake_openai.requests == []
    assert not server.studio.ledger.path.exists() or server.studio.ledger.rows() == []


async def test_a_full_disk_before_sending_is_a_clear_error_and_nothing_is_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.ledger import Ledger

    def full(self: Ledger) -> Any:
        raise sqlite3.OperationalError("database or disk is full")  # where the reservation's write fails

    monkeypatch.setattr(Ledger, "_immediate", full)
    text = error_text(await _generate(build_server(_settings(workspace_dir, fake_openai))))
    assert "database or disk is full" in text and "nothing was sent" in text and "free some disk space" in text
    assert fake_openai.requests == []


# ---------------------------------------------------------------- 7: start-up


def _crashed_call(workspace: Path) -> str:
    """A ledger row left 'sent' by a process that no longer exists; returns its day folder's name."""
    from easel_mcp.budgets import Budgets
    from easel_mcp.ledger import Ledger

    ledger = Ledger.open(workspace / ".easel" / "ledger.sqlite3")
    attempt = ledger.begin(
        tool="generate",
        provider="openai",
        model="gpt-image-1.5",
        params={},
        estimated_usd=0.01,
        reserve_usd=0.02,
        budgets=Budgets(None, None, None),
        job_id="0123456789ab",
    )
    ledger.mark_sent(attempt)
    conn = sqlite3.connect(ledger.path)
    conn.execute("UPDATE attempts SET pid = 999999999 WHERE id = ?", (attempt.id,))  # a dead process
    conn.commit()
    conn.close()
    ledger.close()
    return attempt.started_at.date().isoformat()


async def test_a_deeply_nested_sidecar_does_not_stop_start_up(
    workspace_dir: Path, offline_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    day = workspace_dir / _crashed_call(workspace_dir)
    day.mkdir()
    (day / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (day / "link.json").symlink_to("/etc/passwd")
    server = build_server(offline_settings)
    async with Client(server) as client:
        structured(await client.call_tool("generate_image", {"prompt": "still works"}))
    skipped = [r.getMessage() for r in caplog.records if "recovery: skipped" in r.getMessage()]
    assert any("deep.json" in m for m in skipped) and all("\n" not in m for m in skipped)
    assert server.studio.ledger.rows()[0]["status"] == "sent"  # left for abandon_stale


def _corrupt_ledger(workspace: Path) -> Path:
    path = workspace / ".easel" / "ledger.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database " * 200)
    return path


def _env(workspace: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(EASEL_WORKSPACE=str(workspace), EASEL_PROVIDER="offline")
    return env


def test_a_corrupt_ledger_stops_start_up_with_one_paragraph_before_ready(workspace_dir: Path) -> None:
    import subprocess
    import sys

    path = _corrupt_ledger(workspace_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "easel_mcp"], input=b"", capture_output=True, env=_env(workspace_dir), timeout=60
    )
    err = proc.stderr.decode()
    assert proc.returncode == 4, err
    assert "Easel ready" not in err and "Traceback" not in err and "ExceptionGroup" not in err
    assert str(path.resolve()) in err and "move it aside" in err and len(err.strip().splitlines()) == 1
    assert proc.stdout == b""


def test_usage_on_a_corrupt_ledger_prints_the_same_paragraph(workspace_dir: Path) -> None:
    import subprocess
    import sys

    path = _corrupt_ledger(workspace_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "easel_mcp", "usage"], capture_output=True, env=_env(workspace_dir), timeout=60
    )
    err = proc.stderr.decode()
    assert proc.returncode == 4 and "Traceback" not in err
    assert str(path.resolve()) in err and "move it aside" in err


# ---------------------------------------------------------------- 2: what was checked is what is sent


def _swap_for_symlink(folder: Path, target: Path) -> None:
    folder.rename(folder.with_name(folder.name + "-old"))
    folder.symlink_to(target, target_is_directory=True)


def _planted(workspace: Path, tmp_path: Path) -> tuple[bytes, bytes, Path, Path]:
    """workspace/sub/photo.png (checked) and, outside the workspace, outside/sub/photo.png (a secret)."""
    checked, secret = png((256, 256), (10, 200, 10)), png((256, 256), (250, 0, 0))
    (workspace / "sub").mkdir()
    (workspace / "sub" / "photo.png").write_bytes(checked)
    outside = tmp_path / "outside" / "sub"
    outside.mkdir(parents=True)
    (outside / "photo.png").write_bytes(secret)
    return checked, secret, workspace / "sub", outside


def _after_first_edit(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run `action` once, right after the provider's first edit attempt came back."""
    from easel_mcp.providers.openai import OpenAIProvider

    real = OpenAIProvider.edit
    done: list[bool] = []

    async def edit(self: OpenAIProvider, request: Any) -> Any:
        try:
            return await real(self, request)
        finally:
            if not done:
                done.append(True)
                action()

    monkeypatch.setattr(OpenAIProvider, "edit", edit)


EDIT = {"prompt": "x", "images": ["sub/photo.png"], "quality": "low", "size": "1024x1024"}


async def test_a_folder_swapped_for_a_symlink_between_attempts_changes_nothing_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, secret, sub, outside = _planted(workspace_dir, tmp_path)
    _after_first_edit(monkeypatch, lambda: _swap_for_symlink(sub, outside))
    fake_openai.script.append(Scripted.server_error(500))
    async with Client(build_server(_settings(workspace_dir, fake_openai))) as client:
        structured(await client.call_tool("edit_image", EDIT))
    assert len(fake_openai.requests) == 2
    assert [r.files["image[]"][0].data for r in fake_openai.requests] == [checked, checked]
    assert all(secret not in r.files["image[]"][0].data for r in fake_openai.requests)


async def test_a_folder_swapped_while_queued_behind_the_limit_changes_nothing_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from easel_mcp.providers.openai import OpenAIProvider

    checked, _, sub, outside = _planted(workspace_dir, tmp_path)
    gate = anyio.Event()
    real = OpenAIProvider.generate

    async def held_generate(self: OpenAIProvider, request: Any) -> Any:
        await gate.wait()  # the first call holds the only slot until the test has swapped the folder
        return await real(self, request)

    monkeypatch.setattr(OpenAIProvider, "generate", held_generate)
    server = build_server(_settings(workspace_dir, fake_openai, max_concurrency=1))
    async with Client(server) as client:
        first = structured(await client.call_tool("generate_image", {"prompt": "a", "quality": "low", "wait": False}))
        second = structured(await client.call_tool("edit_image", {**EDIT, "wait": False}))
        _swap_for_symlink(sub, outside)
        gate.set()
        for job in (first, second):
            done = structured(await client.call_tool("get_job", {"job_id": job["job_id"], "wait_s": 50}))
            assert done["status"] == "done", done
    [edit] = [r for r in fake_openai.requests if r.files]
    assert edit.files["image[]"][0].data == checked


async def test_an_input_rewritten_in_place_before_a_retry_is_not_sent(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, secret, sub, _ = _planted(workspace_dir, tmp_path)

    def rewrite() -> None:
        with (sub / "photo.png").open("r+b") as f:  # same file, new bytes
            f.write(secret)

    _after_first_edit(monkeypatch, rewrite)
    fake_openai.script.append(Scripted.server_error(500))
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        text = error_text(await client.call_tool("edit_image", EDIT))
    assert "sub/photo.png changed on disk after it was checked" in text
    assert len(fake_openai.requests) == 1
    assert [r["status"] for r in server.studio.ledger.rows()] == ["error", "cancelled"]


@pytest.mark.parametrize("which", ["images", "mask"])
async def test_a_folder_swapped_right_after_the_check_is_caught_at_open(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    from easel_mcp.workspace import Workspace

    _, _, sub, outside = _planted(workspace_dir, tmp_path)
    (workspace_dir / "photo.png").write_bytes(png((256, 256)))
    real = Workspace.resolve_input
    swapped: list[bool] = []

    def racing(self: Workspace, ref: str, *, what: str = "image") -> Path:
        path = real(self, ref, what=what)
        if ref == "sub/photo.png" and not swapped:  # the race: swapped between the check and the open
            swapped.append(True)
            _swap_for_symlink(sub, outside)
        return path

    monkeypatch.setattr(Workspace, "resolve_input", racing)
    args = {**EDIT, "images": ["photo.png"], "mask": "sub/photo.png"} if which == "mask" else EDIT
    async with Client(build_server(_settings(workspace_dir, fake_openai))) as client:
        text = error_text(await client.call_tool("edit_image", args))
    assert swapped and "outside the workspace" in text
    assert fake_openai.requests == []


@pytest.mark.parametrize("partial", [gif(), broken_png()], ids=["gif", "undecodable-png"])
async def test_a_partial_image_that_cannot_be_saved_does_not_lose_the_final_one(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, partial: bytes
) -> None:
    from tests.fakes.openai_wire import sse

    common = {"created_at": 1700000000, "output_format": "png", "size": "1024x1024", "quality": "low"}
    broken = {"type": "image_generation.partial_image", "b64_json": base64.b64encode(partial).decode()}
    final = {"type": "image_generation.completed", "b64_json": base64.b64encode(png((1024, 1024))).decode()}
    body = sse({**broken, **common, "partial_image_index": 0}) + sse({**final, **common, "usage": USAGE})
    fake_openai.script.append(Scripted(raw=body, headers={"content-type": "text/event-stream"}))
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        args = {"prompt": "x", "quality": "low", "size": "square", "partial_images": 1}
        data = structured(await client.call_tool("generate_image", args))
    assert len(data["images"]) == 1 and data["partials"] == []
    [row] = server.studio.ledger.rows()
    assert row["status"] == "ok" and row["usage"] == USAGE


async def test_inputs_stream_from_the_held_file_and_are_let_go_when_the_call_ends(
    workspace_dir: Path, fake_openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel_mcp.checked import CheckedFile
    from easel_mcp.providers.base import EditRequest
    from easel_mcp.providers.openai import OpenAIProvider

    (workspace_dir / "photo.png").write_bytes(png((512, 512)))
    opened: list[CheckedFile] = []
    real_open = CheckedFile.open.__func__  # type: ignore[attr-defined]

    def recording(cls: type[CheckedFile], *args: Any, **kwargs: Any) -> Any:
        held = real_open(cls, *args, **kwargs)
        opened.append(held[0])
        return held

    monkeypatch.setattr(CheckedFile, "open", classmethod(recording))
    sent: list[EditRequest] = []
    real_edit = OpenAIProvider.edit

    async def edit(self: OpenAIProvider, request: EditRequest) -> Any:
        sent.append(request)
        return await real_edit(self, request)

    monkeypatch.setattr(OpenAIProvider, "edit", edit)
    async with Client(build_server(_settings(workspace_dir, fake_openai))) as client:
        structured(await client.call_tool("edit_image", {**EDIT, "images": ["photo.png"]}))
    [image] = sent[0].images
    assert image.data == b"" and image.file is opened[0]  # no copy in memory: streamed from the open file
    assert fake_openai.requests[0].files["image[]"][0].data == (workspace_dir / "photo.png").read_bytes()
    assert opened and all(f.closed for f in opened)


async def test_gemini_n_calls_that_all_fail_count_every_billed_one() -> None:
    from easel_mcp.providers.base import GenerateRequest
    from easel_mcp.providers.gemini import GeminiProvider
    from tests.fakes.gemini import FakeGemini, GeminiScripted

    with FakeGemini() as fake:
        gemini = GeminiProvider(api_key="gemini-test-key", base_url=fake.base_url)
        fake.script.extend([GeminiScripted.invalid_argument(), GeminiScripted.finish("STOP")])
        request = GenerateRequest(model="gemini-3.1-flash-image", prompt="x", size="auto", quality="low", n=2)
        try:
            with pytest.raises(Exception) as caught:
                await gemini.generate(request)
        finally:
            await gemini.aclose()
    error = caught.value
    assert getattr(error, "billed", False) is True  # the call that answered without an image was billed
    assert getattr(error, "usage", None) == {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12}


def _stream(partial_b64: str, final_b64: str) -> Scripted:
    from tests.fakes.openai_wire import sse

    common = {"created_at": 1700000000, "output_format": "png", "size": "1024x1024", "quality": "low"}
    partial = {"type": "image_generation.partial_image", "b64_json": partial_b64, "partial_image_index": 0}
    final = {"type": "image_generation.completed", "b64_json": final_b64, "usage": USAGE}
    body = sse({**partial, **common}) + sse({**final, **common})
    return Scripted(raw=body, headers={"content-type": "text/event-stream"})


STREAMED = {"prompt": "x", "quality": "low", "size": "square", "partial_images": 1}


async def test_a_partial_with_broken_base64_does_not_lose_the_final_image(
    workspace_dir: Path, fake_openai: FakeOpenAIImages
) -> None:
    fake_openai.script.append(_stream("not base64!", base64.b64encode(png((1024, 1024))).decode()))
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        data = structured(await client.call_tool("generate_image", STREAMED))
    assert len(data["images"]) == 1 and data["partials"] == []
    assert server.studio.ledger.rows()[0]["usage"] == USAGE


async def test_a_streamed_final_with_broken_base64_keeps_its_usage(
    workspace_dir: Path, fake_openai: FakeOpenAIImages
) -> None:
    good = base64.b64encode(png((1024, 1024))).decode()
    fake_openai.script.extend([_stream(good, "not base64!"), _stream(good, "not base64!")])
    server = build_server(_settings(workspace_dir, fake_openai))
    async with Client(server) as client:
        text = error_text(await client.call_tool("generate_image", STREAMED))
    rows = server.studio.ledger.rows()
    assert rows and all(r["status"] == "error" and r["usage"] == USAGE and r["cost_usd"] > 0 for r in rows)
    assert "billed $" in text
