"""A team deployment end to end, every part real: 3 stateless Easel replicas (subprocesses) on one PostgreSQL
ledger and one workspace, haproxy in front, OAuth tokens from a loopback issuer, an MCP client through the
balancer, the fake OpenAI server upstream."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.fakes.openai_images import FakeOpenAIImages
from tests.helpers import structured
from tests.infra.haproxy import HAProxy
from tests.infra.oauth_issuer import OAuthIssuer

pytestmark = pytest.mark.anyio
REPLICAS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # only stops a hung start
    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"replica on {port} did not start:\n{log.read_text()}")
        time.sleep(0.05)


@dataclass
class Team:
    url: str
    issuer: OAuthIssuer
    fake: FakeOpenAIImages
    workspace: Path
    logs: list[Path]
    processes: list[subprocess.Popen[bytes]]
    database_url: str
    ports: list[int]

    def token(self, subject: str) -> str:
        return self.issuer.token(subject, audience=self.url)


@pytest.fixture
def team(postgres_url: str, haproxy_available: None, oauth_issuer: OAuthIssuer, tmp_path: Path) -> Iterator[Team]:
    ports = [_free_port() for _ in range(REPLICAS)]
    balancer = HAProxy(ports)
    public = f"{balancer.url}/mcp"
    workspace = tmp_path / "workspace"
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"replica-{i}.log" for i in range(REPLICAS)]
    with FakeOpenAIImages() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
        env.update(
            EASEL_WORKSPACE=str(workspace),
            EASEL_DATABASE_URL=postgres_url,
            EASEL_OAUTH_ISSUER=oauth_issuer.issuer,
            EASEL_PUBLIC_URL=public,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake.base_url,
            EASEL_REPLICA_HEARTBEAT_S="0.2",  # a stopped replica is noticed in about a second, not 30 s
        )
        try:
            for port, log in zip(ports, logs, strict=True):
                command = [sys.executable, "-m", "easel_mcp", "serve", "--transport", "http", "--stateless"]
                command += ["--host", "127.0.0.1", "--port", str(port)]
                processes.append(subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
            for port, process, log in zip(ports, processes, logs, strict=True):
                _wait_healthy(port, process, log)
            with balancer:
                yield Team(public, oauth_issuer, fake, workspace, logs, processes, postgres_url, ports)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()


async def test_a_user_works_through_the_balancer(team: Team) -> None:
    headers = {"Authorization": f"Bearer {team.token('alice')}"}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(team.url, http_client=http)) as client:
            made = structured(await client.call_tool("generate_image", {"prompt": "a red kite", "quality": "low"}))
            [image] = made["images"]
            edited = structured(
                await client.call_tool(
                    "edit_image", {"prompt": "add a second kite", "images": [image["id"]], "quality": "low"}
                )
            )
            listed = structured(await client.call_tool("list_images", {}))
            read = await client.read_resource(image["uri"])
            job = structured(await client.call_tool("get_job", {"job_id": made["job_id"], "wait_s": 0}))
    assert {i["id"] for i in listed["images"]} == {image["id"], edited["images"][0]["id"]}
    assert read.contents[0].mime_type == "image/png"
    assert job["status"] == "done" and job["result"]["images"][0]["id"] == image["id"]
    assert len(team.fake.requests) == 2 and team.fake.violations == []
    bob = {"Authorization": f"Bearer {team.token('bob')}"}
    async with httpx2.AsyncClient(headers=bob, timeout=120) as http:
        async with Client(streamable_http_client(team.url, http_client=http)) as client:
            assert structured(await client.call_tool("list_images", {}))["images"] == []  # a second user sees none
            assert (await client.call_tool("get_image", {"id": image["id"]})).is_error
    # The balancer spread the requests: more than one replica answered MCP requests.
    answered = [log.read_text().count("POST /mcp") for log in team.logs]
    assert sum(1 for n in answered if n) >= 2, answered


async def test_no_token_no_call(team: Team) -> None:
    async with httpx2.AsyncClient(timeout=60) as http:
        response = await http.post(team.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401 and "resource_metadata=" in response.headers["www-authenticate"]
    assert team.fake.requests == []


def test_health_checks_stay_out_of_the_access_log() -> None:
    from easel_mcp.netguard import SkipHealthChecks

    def record(path: str, status: int) -> logging.LogRecord:
        args = ("127.0.0.1:5000", "GET", path, "1.1", status)
        return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)

    keep = SkipHealthChecks()
    assert not keep.filter(record("/healthz", 200))
    assert keep.filter(record("/mcp", 200)) and keep.filter(record("/healthz", 500))


async def _call_in_flight(team: Team, headers: dict[str, str]) -> tuple[str, int]:
    """A call held at the upstream; its job id and the index of the replica running it."""
    import psycopg

    team.fake.hold()  # the upstream has the request and does not answer: the call is in flight
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(team.url, http_client=http)) as client:
            handle = structured(await client.call_tool("generate_image", {"prompt": "held", "wait": False}))
    await team.fake.received(1)
    with psycopg.connect(team.database_url) as conn:
        row = conn.execute("SELECT replica, status FROM attempts WHERE job_id = %s", (handle["job_id"],)).fetchone()
    assert row is not None and row[1] == "sent"
    pid = int(row[0].rsplit(":", 1)[1])
    [owner] = [i for i, p in enumerate(team.processes) if p.pid == pid]
    return handle["job_id"], owner


async def test_cancel_job_on_another_replica_reaches_the_one_running_the_call(team: Team) -> None:
    headers = {"Authorization": f"Bearer {team.token('alice')}"}
    job_id, owner = await _call_in_flight(team, headers)
    other = team.ports[(owner + 1) % REPLICAS]  # straight to a replica that does not run it, not via the balancer
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(f"http://127.0.0.1:{other}/mcp", http_client=http)) as client:
            view = structured(await client.call_tool("cancel_job", {"job_id": job_id}))
    team.fake.release()
    assert view["status"] == "cancelled", view


async def test_a_replica_killed_mid_call_is_settled_by_the_others(team: Team) -> None:
    import psycopg

    headers = {"Authorization": f"Bearer {team.token('alice')}"}
    job_id, owner = await _call_in_flight(team, headers)
    handle = {"job_id": job_id}
    victim = team.processes[owner]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    # The survivors' sweeper settles the dead replica's call; get_job, through the balancer, reports it.
    deadline = time.monotonic() + 120  # only stops a hung test: the sweep comes within about a second
    while True:
        try:
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                async with Client(streamable_http_client(team.url, http_client=http)) as client:
                    job = structured(await client.call_tool("get_job", {"job_id": handle["job_id"], "wait_s": 0}))
            if job["status"] == "failed":
                break
        except Exception:  # the balancer may still route one request to the dead replica: ask again
            pass
        assert time.monotonic() < deadline, "the stopped replica's call was never settled"
        await anyio.sleep(0.2)
    assert "may have been billed" in job["error"]
    with psycopg.connect(team.database_url) as conn:
        assert conn.execute("SELECT status FROM attempts WHERE job_id = %s", (handle["job_id"],)).fetchone() == (
            "abandoned",
        )


def test_a_task_created_on_one_replica_is_answered_by_another(team: Team) -> None:
    from tests.tasks_support import poll, rpc

    token = team.token("alice")
    first, second = (f"http://127.0.0.1:{port}/mcp" for port in team.ports[:2])
    team.fake.hold()
    call = {"name": "generate_image", "arguments": {"prompt": "a task", "quality": "low"}}
    task = rpc(first, "tools/call", call, token=token)["result"]
    assert task["resultType"] == "task", task
    team.fake.wait_received(1)
    working = rpc(second, "tasks/get", {"taskId": task["taskId"]}, token=token)["result"]
    assert working["status"] == "working", working
    assert "error" in rpc(second, "tasks/get", {"taskId": task["taskId"]}, token=team.token("bob"))  # not bob's
    assert "error" in rpc(first, "tasks/get", {"taskId": task["taskId"]}, token=team.token("bob"))  # nor where it runs
    assert "error" in rpc(first, "tasks/cancel", {"taskId": task["taskId"]}, token=team.token("bob"))
    team.fake.release()
    done = poll(second, str(task["taskId"]), token=token)
    assert done["status"] == "completed" and done["result"]["structuredContent"]["images"], done
    # the preview is read from alice's own folder of the shared workspace (the job's user, not the configured root)
    assert any(block["type"] == "image" for block in done["result"]["content"]), done
    assert not any("no preview" in w for w in done["result"]["structuredContent"]["warnings"]), done
