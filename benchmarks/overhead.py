"""Where a call's time goes: the first calls on a fresh server, and the per-call work beside the upstream.

Issue 14's targets: N simultaneous calls on a FRESH server (EASEL_MAX_CONCURRENCY=N, 1 s upstream) finish within
0.3 s of the same N requests posted raw; and one call costs at most 25 ms over a raw client that posts, decodes the
base64 and writes the file. The breakdown rows time each piece of Easel's own per-call work on the same 1024x1024
answer, so the next person sees where the time goes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import PYTHON, Figure, StdioServer, clean_env, median

ARGS = {"size": "1024x1024", "quality": "low"}


THINK_S = 2.0  # an agent's first turn after the host lists the tools: the model reads them and writes the call


def first_calls(quick: bool) -> list[Figure]:
    """N calls sent together on a fresh stdio server (limit N) after a host's handshake (initialize, initialized,
    tools/list) and the model's first turn, against the same N requests posted raw to the same fake, N at a time;
    and, for information, 8 calls fired the instant tools/list is answered (no think time: the call path is built
    by the calls themselves, alongside the warm-up)."""
    from tests.fakes.openai_images import FakeOpenAIImages

    from benchmarks.calls import _raw_concurrent

    figures: list[Figure] = []
    runs = [(8, THINK_S)] if quick else [(8, THINK_S), (50, THINK_S), (8, 0.0)]
    for n, think in runs:
        with FakeOpenAIImages(latency_s=1.0) as fake, tempfile.TemporaryDirectory() as ws:
            env = clean_env(
                EASEL_WORKSPACE=ws,
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=fake.base_url,
                EASEL_MAX_CONCURRENCY=str(n),
            )
            server = StdioServer([PYTHON, "-m", "easel_mcp"], env)
            server.initialize()
            server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            server.wait_for(2)
            time.sleep(think)
            started = time.perf_counter()
            answers = server.call_many("generate_image", [{"prompt": f"p{i}", **ARGS} for i in range(n)])
            wall = time.perf_counter() - started
            server.close()
            failed = sum(1 for a in answers if "error" in a or a.get("result", {}).get("isError"))
            raw = _raw_concurrent(fake.base_url, n, n)
            floor = _pixel_floor(fake.base_url, n) if think > 0 and n > 8 else None
        timed = think > 0
        figures.append(
            Figure(
                f"first {n} calls on a fresh server, 1 s upstream, limit {n}"
                + ("" if timed else ", sent with no think time"),
                wall,
                raw,
                "s",
                "within 0.3 s of raw" if timed else "(information)",
                (wall - raw <= 0.3 if timed else True) and failed == 0,
                f"stdio; host handshake (initialize, tools/list), then {think:.0f} s of model think time during which "
                f"the server warms up; baseline: the same {n} requests posted raw, {n} at a time; {failed} failed",
            )
        )
        if floor is not None:
            figures.append(
                Figure(
                    f"  of which the pixel floor: the {n} answers decoded and cut, on every core",
                    floor,
                    None,
                    "s",
                    "(information)",
                    True,
                    f"the decode check and preview cut of the fake's 1024x1024 answer, {n} times in "
                    f"{os.cpu_count()} threads (Pillow releases the GIL): work every call's result needs, done "
                    "after its answer arrives; the raw baseline does none of it",
                )
            )
    return figures


def _answer_png(base_url: str) -> bytes:
    """One 1024x1024 answer of the fake, as the upstream sends it (the PNG inside its b64_json)."""
    import httpx2

    with httpx2.Client(base_url=base_url, headers={"Authorization": "Bearer sk-test"}, timeout=60) as http:
        body = http.post("/images/generations", json={"model": "gpt-image-1.5", "prompt": "a lighthouse", **ARGS})
    return base64.b64decode(body.json()["data"][0]["b64_json"])


def _pixel_floor(base_url: str, n: int) -> float:
    """The wall time of the pixel work alone for N answers, spread over every core: the least any server that
    checks every pixel and returns a preview adds to N answers arriving together."""
    from concurrent.futures import ThreadPoolExecutor

    from easel_mcp.service.settling import usable_images

    data = _answer_png(base_url)
    usable_images([data])  # codecs loaded, as the warmed server has them
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: usable_images([data]), range(n)))
        return time.perf_counter() - started


def breakdown(reps: int) -> list[Figure]:
    """Each piece of Easel's per-call work on one 1024x1024 answer of the fake, timed on its own (median)."""
    from tests.fakes.openai_images import FakeOpenAIImages

    from easel_mcp.budgets import Budgets
    from easel_mcp.imaging.preview import encode_preview
    from easel_mcp.ledger import Ledger
    from easel_mcp.service.settling import usable_images
    from easel_mcp.settings import Settings
    from easel_mcp.workspace import Workspace

    with FakeOpenAIImages() as fake:
        data = _answer_png(fake.base_url)
    budget = min(Settings().preview_budget_bytes, Settings().preview_max_bytes_per_image)
    timings: dict[str, list[float]] = {}

    def timed(name: str, fn: object) -> None:
        assert callable(fn)
        started = time.perf_counter()
        fn()
        timings.setdefault(name, []).append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace.open(Path(folder))
        ledger = Ledger(workspace.state_dir / "ledger.sqlite3")
        budgets = Budgets(None, None, None, None, None)
        sidecar = json.dumps({"prompt": "a lighthouse", "parameters": ARGS, "usage": {}} | {"pad": "x" * 1500})
        for i in range(reps + 2):
            checked = usable_images([data])
            timed("decode check (every pixel) and preview cut", lambda: usable_images([data]))
            source = checked.previews[0]
            assert source is not None
            timed("preview encode", lambda s=source: encode_preview(s, budget))
            timed("sha256", lambda: hashlib.sha256(data).hexdigest())
            name = f"bench-{i}"
            timed("image file (atomic, fsync)", lambda n=name: workspace.write_image(data, ext="png", label=n))
            timed(
                "sidecar file (atomic, fsync)",
                lambda n=name: workspace.write_file(("side", f"{n}.json"), sidecar.encode()),
            )

            def ledger_row() -> None:
                attempt = ledger.begin(
                    tool="generate",
                    provider="openai",
                    model="gpt-image-1.5",
                    params={"prompt": "a lighthouse"},
                    estimated_usd=0.01,
                    reserve_usd=0.02,
                    budgets=budgets,
                )
                ledger.mark_sent(attempt)
                ledger.settle(attempt, status="ok", cost_usd=0.01, usage={}, request_id="req", outputs=["x.png"])

            timed("ledger row (reserve, sent, settle)", ledger_row)
        ledger.close()
    figures = []
    for name, values in timings.items():
        value = median(values[2:])
        figures.append(Figure(f"per-call part: {name}", value, None, "ms", "", True, f"median of {reps}"))
    return figures
