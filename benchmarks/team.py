"""Figures of a team deployment, on real components started here (a throwaway PostgreSQL cluster, haproxy):
throughput of 3 replicas against 1, the PostgreSQL ledger's added latency per call, budget reservations
under contention. Skipped (with the reason) where PostgreSQL or haproxy is not installed."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, Figure, clean_env, median


def missing() -> str | None:
    from tests.infra import haproxy, postgres

    return postgres.missing_reason() or haproxy.missing_reason()


def skipped(names: list[str], reason: str) -> list[Figure]:
    return [Figure(name, None, None, "", "", False, f"skipped: {reason}") for name in names]


@contextmanager
def _cluster() -> Iterator[Any]:
    from tests.infra.postgres import start_cluster

    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _replicas(ports: list[int], env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    import httpx2

    processes = [
        subprocess.Popen(
            [PYTHON, "-m", "easel_mcp", "serve", "--transport", "http", "--stateless", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    for port in ports:
        for _ in range(1200):
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.05)
    return processes


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


async def _calls(url: str, calls: int, replicas: list[str]) -> float:
    """The wall time of `calls` parallel calls through `url`, once every replica (its own URL) made one call: a
    replica's first call pays for its imports and connections (about a second of CPU), which is not throughput."""
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    args = {"prompt": "warm up", "quality": "low", "preview": "none"}
    for replica in replicas:
        async with (
            httpx2.AsyncClient(timeout=600) as http,
            Client(streamable_http_client(replica, http_client=http)) as c,
        ):
            await c.call_tool("generate_image", args)
    async with httpx2.AsyncClient(timeout=600) as http, Client(streamable_http_client(url, http_client=http)) as c:
        await c.call_tool("generate_image", args)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(calls):
                tg.start_soon(c.call_tool, "generate_image", {**args, "prompt": f"call {i}"})
        return time.perf_counter() - started


def throughput(quick: bool) -> Figure:
    """48 calls with a 1 s upstream and EASEL_MAX_CONCURRENCY=4 per replica, through haproxy: 3 replicas vs 1."""
    import anyio
    from tests.fakes.openai_images import FakeOpenAIImages
    from tests.infra.haproxy import HAProxy

    calls, latency = (24, 0.5) if quick else (48, 1.0)
    rates: dict[int, float] = {}
    with _cluster() as cluster, FakeOpenAIImages(latency_s=latency) as fake, tempfile.TemporaryDirectory() as ws:
        for count in (1, 3):
            ports = [_free_port() for _ in range(count)]
            balancer = HAProxy(ports)
            env = clean_env(
                EASEL_PUBLIC_URL=f"{balancer.url}/mcp",  # the address clients reach: allowed as Host behind haproxy
                EASEL_WORKSPACE=str(Path(ws) / str(count)),
                EASEL_DATABASE_URL=cluster.new_database(),
                EASEL_MAX_CONCURRENCY="4",
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=fake.base_url,
            )
            processes = _replicas(ports, env)
            try:
                with balancer:
                    wall = anyio.run(_calls, f"{balancer.url}/mcp", calls, [f"http://127.0.0.1:{p}/mcp" for p in ports])
            finally:
                _stop(processes)
            rates[count] = calls / wall
    ratio = rates[3] / rates[1]
    return Figure(
        "team throughput: 3 replicas behind haproxy (calls/s)",
        rates[3],
        rates[1],
        "calls/s",
        ">= 2.7x",
        ratio >= 2.7,
        f"{calls} calls, upstream {latency} s, EASEL_MAX_CONCURRENCY=4 per replica, one PostgreSQL ledger, "
        "examples/deploy/haproxy.cfg (leastconn), every replica warmed by one call; "
        "baseline: 1 replica behind the same haproxy",
    )


def postgres_latency(quick: bool) -> list[Figure]:
    """Median per-call time (generate 1024x1024, upstream latency 0) with the PostgreSQL ledger, and with PostgreSQL
    and an S3 store, vs the embedded SQLite ledger and folder."""
    import anyio
    from mcp import Client
    from tests.fakes.openai_images import FakeOpenAIImages

    from easel_mcp.app import build_server
    from easel_mcp.settings import Settings

    reps = 5 if quick else 20

    async def timed(settings: Settings) -> float:
        times = []
        async with Client(build_server(settings)) as client:
            args = {"prompt": "a lighthouse", "size": "1024x1024", "quality": "low", "preview": "none"}
            for i in range(reps + 2):
                started = time.perf_counter()
                await client.call_tool("generate_image", args)
                if i >= 2:
                    times.append(time.perf_counter() - started)
        return median(times)

    from tests.infra.s3 import S3Server

    s3 = S3Server().start()
    saved = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())  # the store reads the standard AWS variables
    try:
        with _cluster() as cluster, FakeOpenAIImages() as fake, tempfile.TemporaryDirectory() as ws:
            common: dict[str, Any] = {"openai_api_key": "sk-test", "openai_base_url": fake.base_url}
            sqlite = anyio.run(timed, Settings(workspace=Path(ws) / "a", **common))
            postgres = anyio.run(
                timed, Settings(workspace=Path(ws) / "b", database_url=cluster.new_database(), **common)
            )
            team = anyio.run(
                timed,
                Settings(  # type: ignore[call-arg]
                    workspace=Path(ws) / "c",
                    database_url=cluster.new_database(),
                    store_url=f"s3://{s3.bucket()}/bench",
                    s3_endpoint=s3.endpoint,
                    **common,
                ),
            )
    finally:
        s3.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    note = f"median of {reps} after 2 warm-up calls, upstream latency 0; baseline: the embedded SQLite ledger"
    return [
        Figure(
            "PostgreSQL ledger: time per call", postgres, sqlite, "ms", "<= +30 ms", postgres - sqlite <= 0.030, note
        ),
        Figure(
            "PostgreSQL + S3 store (moto over HTTP): time per call",
            team,
            sqlite,
            "ms",
            "<= +30 ms",
            team - sqlite <= 0.030,
            note + " and the local folder; the image and its sidecar are uploaded to the store before the result",
        ),
    ]


def reservations(quick: bool) -> list[Figure]:
    """begin() times with 3 replicas (ledger instances) x 16 threads reserving against one budget."""
    from easel_mcp.budgets import Budgets
    from easel_mcp.storage.postgres_ledger import PostgresLedger

    rounds = 2 if quick else 8
    times: list[float] = []
    with _cluster() as cluster:
        url = cluster.new_database()
        replicas = [PostgresLedger.open(url, max_connections=16) for _ in range(3)]
        budgets = Budgets(daily_usd=1e6)
        lock = threading.Lock()

        def one(ledger: PostgresLedger, barrier: threading.Barrier) -> None:
            barrier.wait()
            started = time.perf_counter()
            ledger.begin(  # a budget that is never reached: every call takes the lock and sums the day
                tool="generate_image",
                provider="openai",
                model="gpt-image-1.5",
                params={},
                estimated_usd=0.04,
                reserve_usd=0.05,
                budgets=budgets,
            )
            with lock:
                times.append(time.perf_counter() - started)

        for _ in range(rounds):
            barrier = threading.Barrier(48)
            threads = [threading.Thread(target=one, args=(r, barrier)) for r in replicas for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for r in replicas:
            r.close()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    note = f"{len(times)} reservations, 3 ledger replicas x 16 threads at once, advisory-locked; {os.cpu_count()} cores"
    return [
        Figure("budget reservation, 3 replicas x 16 parallel: median", median(times), None, "ms", "", True, note),
        Figure("budget reservation, 3 replicas x 16 parallel: p99", p99, None, "ms", "", True, note),
    ]


NAMES = [
    "team throughput: 3 replicas behind haproxy (calls/s)",
    "PostgreSQL ledger: time per call",
    "PostgreSQL + S3 store (moto over HTTP): time per call",
    "budget reservation, 3 replicas x 16 parallel: median",
    "budget reservation, 3 replicas x 16 parallel: p99",
]
