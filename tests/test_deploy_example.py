"""examples/deploy/local-team.sh, run as a person would: it brings up PostgreSQL, the development issuer, 3
replicas and haproxy, prints tokens, and an MCP client with one of them makes and lists images."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import structured

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "deploy" / "local-team.sh"
pytestmark = pytest.mark.anyio


def _free_port_block(size: int) -> int:
    """A first port whose next `size - 1` ports are free too (the script puts the replicas there)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = int(s.getsockname()[1])
        if first + size < 65535 and all(_free(first + i) for i in range(size)):
            return first
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_local_team_stack(postgres_cluster: object, haproxy_available: None, tmp_path: Path) -> None:
    # postgres_cluster: only for its skip when PostgreSQL is not installed (the script starts its own cluster).
    port = _free_port_block(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_", "AWS_"))}
    env.update(
        EASEL_TEAM_DIR=str(tmp_path / "team"),
        EASEL_TEAM_PORT=str(port),
        EASEL_TEAM_PG_PORT=str(_free_port_block(1)),
        EASEL_TEAM_ISSUER_PORT=str(_free_port_block(1)),
        EASEL_TEAM_S3_PORT=str(_free_port_block(1)),
        PYTHON=sys.executable,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    process = subprocess.Popen(
        ["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Clients send"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(timeout=300) and process.poll() is None, "".join(lines)
        text = "".join(lines)
        url = re.search(r"MCP endpoint \(streamable HTTP\): (\S+)", text)
        alice = re.search(r"token for alice: (\S+)", text)
        bob = re.search(r"token for bob: +(\S+)", text)
        assert url and alice and bob, text
        headers = {"Authorization": f"Bearer {alice.group(1)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
            async with Client(streamable_http_client(url.group(1), http_client=http)) as client:
                made = structured(await client.call_tool("generate_image", {"prompt": "a team kite"}))
                kite = made["images"][0]
                edited = structured(await client.call_tool("edit_image", {"prompt": "at dusk", "images": [kite["id"]]}))
                listed = structured(await client.call_tool("list_images", {}))
                detail = structured(await client.call_tool("get_image", {"id": kite["id"], "preview": False}))
                read = await client.read_resource(kite["uri"])
        assert sorted(i["id"] for i in listed["images"]) == sorted([kite["id"], edited["images"][0]["id"]])
        assert kite["path"].startswith("s3://easel-team/images/users/")  # the S3 server has it
        assert detail["children"][0]["id"] == edited["images"][0]["id"] and read.contents
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bob.group(1)}"}, timeout=120) as http:
            async with Client(streamable_http_client(url.group(1), http_client=http)) as client:
                assert structured(await client.call_tool("list_images", {}))["images"] == []  # bob sees none of them
                assert (await client.call_tool("get_image", {"id": kite["id"]})).is_error
        assert httpx2.post(url.group(1), json={}, timeout=30).status_code == 401
        gallery = re.search(r"alice's gallery: (\S+)", text)  # the link signs in once, then the cookie
        assert gallery, text
        with httpx2.Client(timeout=60, follow_redirects=True) as browser:
            assert browser.get(gallery.group(1)).status_code == 200
            mine = browser.get(gallery.group(1).split("?")[0] + "api/images").json()["images"]
        assert sorted(i["id"] for i in mine) == sorted(i["id"] for i in listed["images"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
        # As root the script keeps PostgreSQL's folder where the postgres user can reach it: remove it too.
        digest = hashlib.md5(str(tmp_path / "team").encode()).hexdigest()[:12]
        shutil.rmtree(f"/tmp/easel-team-pg-{digest}", ignore_errors=True)
    assert process.returncode == 0, "".join(lines)  # Ctrl-C (SIGTERM) stops the whole stack cleanly
