"""Figures about resources: preview making, memory during a 16-image edit, the ledger, the index."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import PYTHON, Figure, StdioServer, clean_env, median


def _photo_png(size: tuple[int, int]) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(40):
        x, y = (i * 97) % size[0], (i * 53) % size[1]
        draw.ellipse((x, y, x + size[0] // 6, y + size[1] // 6), fill=((i * 40) % 255, (i * 90) % 255, 120))
    noise = Image.effect_noise((size[0] // 4, size[1] // 4), 40).resize(size).convert("RGB")
    img = Image.blend(img.filter(ImageFilter.GaussianBlur(3)), noise, 0.15)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def preview(reps: int) -> list[Figure]:
    from PIL import Image, features

    from easel_mcp.imaging.preview import make_preview

    data = _photo_png((3840, 2160))
    ours, naive, decode = [], [], []
    for _ in range(reps):
        started = time.perf_counter()
        Image.open(io.BytesIO(data)).load()
        decode.append(time.perf_counter() - started)
        started = time.perf_counter()
        p = make_preview(data, 200_000, fmt="auto")  # what the server does
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        img = Image.open(io.BytesIO(data))
        img.thumbnail((512, 512), Image.Resampling.LANCZOS, reducing_gap=None)  # the same size
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=80)
        naive.append(time.perf_counter() - started)
    e = median(ours)
    return [
        Figure(
            "preview of a 3840x2160 PNG",
            e,
            median(naive),
            "ms",
            "<= 150 ms, within budget",
            e <= 0.150 and len(p.data) <= 200_000,
            f"{len(p.data):,} bytes, {p.width}x{p.height} {p.mime_type}; baseline: plain LANCZOS thumbnail",
        ),
        Figure(
            "  of which the PNG decode alone",
            median(decode),
            None,
            "ms",
            "(information)",
            True,
            f"Image.open(...).load() of the same {len(data) / 2**20:.1f} MB file: the floor of any preview of it; "
            f"Pillow {features.version('pil')} inflating with zlib {features.version('zlib')}",
        ),
    ]


def memory() -> Figure:
    from tests.fakes.openai_images import FakeOpenAIImages

    side = 4096
    with FakeOpenAIImages() as fake, tempfile.TemporaryDirectory() as ws:
        root = Path(ws)
        data = _photo_png((side, side))
        for i in range(16):
            (root / f"in{i}.png").write_bytes(data)
        env = clean_env(EASEL_WORKSPACE=ws, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url)
        idle = StdioServer([PYTHON, "-m", "easel_mcp"], env)
        idle.initialize()
        idle.call("generate_image", {"prompt": "warm up", "quality": "low", "size": "1024x1024"})
        baseline = idle.peak_rss()
        idle.close()
        server = StdioServer([PYTHON, "-m", "easel_mcp"], env)
        server.initialize()
        message, _ = server.call(
            "edit_image",
            {
                "prompt": "combine",
                "images": [f"in{i}.png" for i in range(16)],
                "quality": "low",
                "size": "1024x1024",
                "model": "gpt-image-1.5",
            },
        )
        peak = server.peak_rss()
        server.close()
        sent = fake.requests[-1].files.get("image[]", [])
        untouched = all(f.data == data for f in sent) and len(sent) == 16
    decoded = side * side * 4
    limit = decoded * 2 + 150 * 2**20
    ok = "error" not in message and peak <= limit and untouched
    return Figure(
        "peak RSS: edit with 16 PNG inputs of 4096x4096",
        peak,
        baseline,
        "MB",
        f"<= {limit / 2**20:.0f} MB (2 x decoded + 150 MB)",
        ok,
        f"inputs sent as they are: {untouched} ({len(data) / 2**20:.1f} MB each); baseline: the same "
        "server after one 1024x1024 generate",
    )


def ledger(quick: bool) -> list[Figure]:
    from easel_mcp.budgets import Budgets
    from easel_mcp.ledger import Ledger

    rows = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as ws:
        path = Path(ws) / ".easel" / "ledger.sqlite3"
        led = Ledger.open(path)
        appends = []
        for _ in range(200):
            started = time.perf_counter()
            attempt = led.begin(
                tool="generate",
                provider="openai",
                model="gpt-image-1.5",
                params={"p": 1},
                estimated_usd=0.04,
                reserve_usd=0.05,
                budgets=Budgets(daily_usd=1e9),
            )
            led.settle(
                attempt, status="ok", cost_usd=0.04, usage={"output_tokens": 1056}, request_id="r", outputs=["a.png"]
            )
            appends.append(time.perf_counter() - started)
        led.close()
        _bulk_rows(path, rows)
        led = Ledger(path)
        started = time.perf_counter()
        led.report(since=None, by="model")
        report_s = time.perf_counter() - started
        led.close()
        env = clean_env(EASEL_WORKSPACE=ws)
        cli = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                [PYTHON, "-m", "easel_mcp", "usage", "--by", "model"], env=env, check=True, capture_output=True
            )
            cli.append(time.perf_counter() - started)
        version = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([PYTHON, "-m", "easel_mcp", "--version"], env=env, check=True, capture_output=True)
            version.append(time.perf_counter() - started)
    append = median(appends)
    return [
        Figure(f"ledger report over {rows:,} rows (by model)", report_s, None, "ms", "<= 300 ms", report_s <= 0.3),
        Figure(
            f"`easel-mcp usage` over {rows:,} rows (whole command)",
            median(cli),
            median(version),
            "s",
            "<= --version + 0.3 s",
            median(cli) - median(version) <= 0.3,
            "baseline: `easel-mcp --version` (interpreter and CLI start-up)",
        ),
        Figure(
            "ledger append (reserve + settle, WAL)", append, None, "ms", "<= 2 ms", append <= 0.002, "median of 200"
        ),
    ]


def _bulk_rows(path: Path, count: int) -> None:
    conn = sqlite3.connect(path)
    start = datetime.now(UTC) - timedelta(days=90)
    models = ["gpt-image-1.5", "gpt-image-2", "gpt-image-1-mini", "gpt-image-2.5-flare"]
    tools = ["generate", "edit", "inpaint", "outpaint"]
    conn.executemany(
        "INSERT INTO attempts (started_at, finished_at, tool, provider, model, params_json, params_digest, status,"
        " estimated_usd, reserved_usd, counted_usd, cost_usd, input_tokens, output_tokens, images, pid)"
        " VALUES (?, ?, ?, 'openai', ?, '{}', 'x', 'ok', 0.04, 0.05, 0.04, 0.04, 20, 1056, 1, 1)",
        [
            (
                (start + timedelta(seconds=i * 77)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                (start + timedelta(seconds=i * 77 + 9)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                tools[i % 4],
                models[i % 4],
            )
            for i in range(count)
        ],
    )
    conn.commit()
    conn.close()


def gallery_index(quick: bool) -> Figure:
    """First page of list_images (through an MCP client) over a workspace of 10,000 images."""
    import anyio
    from mcp import Client
    from tests.test_index import fabricate

    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    count = 2_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as ws:
        root = Path(ws)
        fabricate(root, count, per_day=200)

        async def run() -> tuple[float, float, float]:
            async with Client(build_server(Settings(workspace=root, provider="offline"))) as client:
                started = time.perf_counter()
                await client.call_tool("list_images", {"limit": 20})  # cold: builds the index
                cold = time.perf_counter() - started
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    result = await client.call_tool("list_images", {"limit": 20})
                    times.append(time.perf_counter() - started)
                    assert not result.is_error
                started = time.perf_counter()
                await client.call_tool("list_images", {"limit": 20, "query": "fox", "model": "gpt-image-1.5"})
                return cold, median(times), time.perf_counter() - started

        cold, warm, filtered = anyio.run(run)
    return Figure(
        f"list_images first page over {count:,} images",
        warm,
        None,
        "ms",
        "<= 300 ms",
        warm <= 0.3,
        f"cold index build on first call {cold:.2f} s; filtered query {filtered * 1000:.0f} ms",
    )
