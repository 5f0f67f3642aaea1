"""Figures about calls: start-up, per-call overhead, bytes to the agent, concurrency and loop lag."""

from __future__ import annotations

import base64
import gc
import json
import math
import re
import tempfile
import time
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, Figure, StdioServer, clean_env, median, time_startup

B64_RUN = re.compile(r"[A-Za-z0-9+/=]{200,}")


def _compile_package() -> None:
    """Compile Easel's modules to bytecode once, as installing the wheel does (pip compiles at install; the
    SDK the baseline imports was compiled so). An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as
    CI machines set) would otherwise compile every module again at every start, which no user pays."""
    import compileall

    compileall.compile_dir(ROOT / "server" / "easel_mcp", quiet=2)


def startup(reps: int) -> Figure:
    _compile_package()
    with tempfile.TemporaryDirectory() as ws:
        easel_env = clean_env(EASEL_WORKSPACE=ws, EASEL_PROVIDER="offline")
        bare_env = clean_env()
        easel, bare = [], []
        time_startup([PYTHON, "-m", "easel_mcp"], easel_env)  # warm the file cache once
        time_startup([PYTHON, str(ROOT / "benchmarks" / "bare_server.py")], bare_env)
        for _ in range(reps):
            easel.append(time_startup([PYTHON, "-m", "easel_mcp"], easel_env))
            bare.append(time_startup([PYTHON, str(ROOT / "benchmarks" / "bare_server.py")], bare_env))
    e, b = median(easel), median(bare)
    return Figure(
        "stdio cold start (initialize + tools/list)",
        e,
        b,
        "s",
        "<= 1.15x",
        e <= 1.15 * b,
        f"median of {reps}; baseline: a bare MCPServer with one tool on the same interpreter; both from "
        "bytecode, as installed",
    )


def per_call(reps: int) -> tuple[Figure, Figure]:
    import httpx2
    from tests.fakes.openai_images import FakeOpenAIImages

    with FakeOpenAIImages() as fake, tempfile.TemporaryDirectory() as ws:
        server = StdioServer(
            [PYTHON, "-m", "easel_mcp"],
            clean_env(EASEL_WORKSPACE=ws, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url),
        )
        server.initialize()
        args = {"prompt": "a lighthouse at dusk", "size": "1024x1024", "quality": "low"}
        easel: list[float] = []
        b64_chars = 0
        for i in range(reps + 2):
            started = time.perf_counter()
            message, _ = server.call("generate_image", args)
            if i >= 2:
                easel.append(time.perf_counter() - started)
            result = message["result"]
            b64_chars += sum(len(m) for m in B64_RUN.findall(json.dumps(result["structuredContent"])))
        server.close()
        raw: list[float] = []
        out = Path(ws) / "raw"
        out.mkdir()
        with httpx2.Client(base_url=fake.base_url, headers={"Authorization": "Bearer sk-test"}, timeout=60) as http:
            for i in range(reps + 2):
                started = time.perf_counter()
                body = http.post("/images/generations", json={"model": "gpt-image-1.5", **args, "n": 1}).json()
                (out / f"{i}.png").write_bytes(base64.b64decode(body["data"][0]["b64_json"]))
                if i >= 2:
                    raw.append(time.perf_counter() - started)
    e, r = median(easel), median(raw)
    overhead = Figure(
        "per-call: generate 1024x1024 via MCP stdio vs raw HTTP",
        e,
        r,
        "s",
        "<= raw + 25 ms",
        e - r <= 0.025,
        f"median of {reps}, fake latency 0; Easel {1000 * (e - r):.1f} ms over the raw client (post, decode base64, "
        "write the file); Easel includes validation, ledger, file + sidecar, preview, index: the 'per-call part' rows",
    )
    return overhead, payload(b64_chars)


def payload(b64_in_calls: int) -> Figure:
    """Serialized result bytes per image, on photo-like images (the worst case for previews)."""
    import anyio
    from mcp import Client

    from benchmarks.resources import _photo_png
    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    async def run(ws: Path) -> tuple[list[float], int]:
        (ws / "photo.png").write_bytes(_photo_png((1536, 1024)))
        per_image: list[float] = []
        b64 = 0
        async with Client(build_server(Settings(workspace=ws, provider="offline"))) as client:
            for args, n in (
                ({"prompt": "keep it", "images": ["photo.png"]}, 1),
                ({"prompt": "keep it", "images": ["photo.png"], "n": 4}, 4),
            ):
                result = await client.call_tool("edit_image", args)
                text = json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True))
                per_image.append(len(text) / n)
                b64 += sum(len(m) for m in B64_RUN.findall(json.dumps(result.structured_content)))
        return per_image, b64

    with tempfile.TemporaryDirectory() as folder:
        sizes, b64 = anyio.run(run, Path(folder))
    worst = max(sizes)
    b64 += b64_in_calls
    return Figure(
        "bytes to the agent per image (serialized result)",
        worst,
        None,
        "KB",
        "<= 100 KB, 0 base64 in structuredContent",
        worst <= 100_000 and b64 == 0,
        f"photo-like 1536x1024 edits, n=1 and n=4 (worst per image); base64 characters in structuredContent: {b64}",
    )


def concurrency(quick: bool) -> list[Figure]:
    import anyio
    from mcp import Client
    from tests.fakes.openai_images import FakeOpenAIImages

    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    limit = 4
    figures: list[Figure] = []
    worst_lag = 0.0
    for n in (8,) if quick else (8, 50):
        with FakeOpenAIImages(latency_s=1.0) as fake, tempfile.TemporaryDirectory() as ws:
            settings = Settings(
                workspace=Path(ws), openai_api_key="sk-test", openai_base_url=fake.base_url, max_concurrency=limit
            )

            async def run(settings: Settings = settings, n: int = n) -> tuple[float, float]:
                lag = 0.0
                done = anyio.Event()

                async def ticker() -> None:
                    nonlocal lag
                    while not done.is_set():
                        before = time.perf_counter()
                        await anyio.sleep(0.01)
                        lag = max(lag, time.perf_counter() - before - 0.01)

                gc.collect()  # the garbage of the figures measured before in this process is not the server's
                async with Client(build_server(settings)) as client, anyio.create_task_group() as tg:
                    # warm: the first call builds the provider's client (the SDK import, in a thread)
                    await client.call_tool("generate_image", {"prompt": "warm", "quality": "low", "size": "1024x1024"})
                    tg.start_soon(ticker)
                    started = time.perf_counter()
                    async with anyio.create_task_group() as calls:
                        for i in range(n):
                            calls.start_soon(
                                client.call_tool,
                                "generate_image",
                                {"prompt": f"p{i}", "quality": "low", "size": "1024x1024"},
                            )
                    wall = time.perf_counter() - started
                    done.set()
                return wall, lag

            wall, lag = anyio.run(run)
            raw = _raw_concurrent(fake.base_url, n, limit)
            worst_lag = max(worst_lag, lag)
            ideal = math.ceil(n / limit) * 1.0
            figures.append(
                Figure(
                    f"{n} simultaneous calls, 1 s upstream, limit {limit}",
                    wall,
                    ideal,
                    "s",
                    "within 0.3 s of ideal (of raw)",
                    min(wall - ideal, wall - raw) <= 0.3,
                    f"baseline: ceil(N / limit) x 1 s; the same {n} calls posted raw with the limit "
                    f"take {raw:.2f} s (the fake renders each answer on its one loop)",
                )
            )
    figures.append(
        Figure(
            "event-loop lag during those calls (max)",
            worst_lag,
            None,
            "ms",
            "<= 100 ms",
            worst_lag <= 0.1,
            "a 10 ms ticker on the server's loop; Pillow and files in threads",
        )
    )
    return figures


def _raw_concurrent(base_url: str, n: int, limit: int) -> float:
    """The same N requests posted straight to the fake, `limit` at a time: what the fake itself allows."""
    import anyio
    import httpx2

    async def run() -> float:
        semaphore = anyio.Semaphore(limit)
        async with httpx2.AsyncClient(
            base_url=base_url, headers={"Authorization": "Bearer sk-test"}, timeout=60
        ) as http:

            async def one(i: int) -> None:
                async with semaphore:
                    await http.post(
                        "/images/generations",
                        json={"model": "gpt-image-1.5", "prompt": f"p{i}", "size": "1024x1024", "quality": "low"},
                    )

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(one, i)
            return time.perf_counter() - started

    return anyio.run(run)
