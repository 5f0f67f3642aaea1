"""Shared pieces of the benchmarks: the Figure record, timing helpers, a raw stdio MCP driver."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    name: str
    easel: float | None
    baseline: float | None
    unit: str
    target: str
    met: bool
    note: str = ""

    def _fmt(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "ms":
            return f"{value * 1000:.1f} ms"
        if self.unit == "s":
            return f"{value:.2f} s"
        if self.unit == "KB":
            return f"{value / 1000:.1f} KB"
        if self.unit == "MB":
            return f"{value / 2**20:.0f} MB"
        return f"{value:g} {self.unit}".strip()

    def easel_text(self) -> str:
        return self._fmt(self.easel)

    def baseline_text(self) -> str:
        return self._fmt(self.baseline)

    def ratio_text(self) -> str:
        if self.easel is None or not self.baseline:
            return "-"
        return f"{self.easel / self.baseline:.2f}x"


def median(values: list[float]) -> float:
    return statistics.median(values)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASEL_", "OPENAI_"))}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class StdioServer:
    """A server subprocess spoken to line by line (JSON-RPC over stdio), as hosts do."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self._id = 100

    @property
    def _stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def send(self, message: dict[str, Any]) -> None:
        self._stdin.write(json.dumps(message).encode() + b"\n")
        self._stdin.flush()

    def wait_for(self, request_id: int) -> tuple[dict[str, Any], int]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            message = json.loads(line)
            if message.get("id") == request_id:
                return message, len(line)

    def initialize(self) -> None:
        self.send(INITIALIZE)
        self.wait_for(1)
        self.send(INITIALIZED)

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], int]:
        self._id += 1
        self.send(
            {"jsonrpc": "2.0", "id": self._id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
        )
        return self.wait_for(self._id)

    def call_many(self, name: str, arguments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send every call at once (as a host does when an agent fans out), then read until all are answered."""
        assert self.proc.stdout is not None
        pending: dict[int, int] = {}
        for i, args in enumerate(arguments):
            self._id += 1
            pending[self._id] = i
            self.send(
                {"jsonrpc": "2.0", "id": self._id, "method": "tools/call", "params": {"name": name, "arguments": args}}
            )
        answers: list[dict[str, Any]] = [{} for _ in arguments]
        while pending:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            message = json.loads(line)
            if message.get("id") in pending:
                answers[pending.pop(message["id"])] = message
        return answers

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def time_startup(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn until initialize and tools/list are answered."""
    started = time.perf_counter()
    server = StdioServer(argv, env)
    server.initialize()
    server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    server.wait_for(2)
    elapsed = time.perf_counter() - started
    server.close()
    return elapsed


PYTHON = sys.executable
