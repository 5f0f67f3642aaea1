"""haproxy (Debian's) in front of servers the test started: a real load balancer on loopback.

with HAProxy([8001, 8002, 8003]) as lb:
    httpx2.get(lb.url + "/mcp")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "apt-get install haproxy"

# The configuration users copy: the tests and the benchmark run exactly it, on their own ports.
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deploy" / "haproxy.cfg"


def missing_reason() -> str | None:
    return None if shutil.which("haproxy") else f"haproxy is not installed ({INSTALL_HINT})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HAProxy:
    def __init__(self, backends: list[int], *, health_check: bool = True) -> None:
        self.backends = backends
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.health_check = health_check
        self._folder = Path(tempfile.mkdtemp(prefix="easel-haproxy-"))
        self._process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """examples/deploy/haproxy.cfg with this balancer's port and backends (its servers are the last lines)."""
        check = " check" if self.health_check else ""
        lines = []
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] == ["bind"]:
                line = f"    bind 127.0.0.1:{self.port}"
            elif words[:1] == ["server"] or (words[:2] == ["option", "httpchk"] and not self.health_check):
                continue
            lines.append(line)
        lines += [f"    server r{i} 127.0.0.1:{p}{check}" for i, p in enumerate(self.backends)]
        return "\n".join(lines) + "\n"

    def start(self) -> HAProxy:
        path = self._folder / "haproxy.cfg"
        path.write_text(self.config(), encoding="utf-8")
        subprocess.run(["haproxy", "-c", "-q", "-f", str(path)], check=True, timeout=30)
        log = (self._folder / "haproxy.log").open("wb")
        self._process = subprocess.Popen(["haproxy", "-db", "-f", str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + 60  # only stops a hung start
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy did not start: {(self._folder / 'haproxy.log').read_text()}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
