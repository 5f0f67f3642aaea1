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

CONFIG = """global
    maxconn 2000

defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    option http-buffer-request

frontend easel
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 500ms fall 2 rise 1
{servers}
"""


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
        check = " check" if self.health_check else ""
        servers = "\n".join(f"    server r{i} 127.0.0.1:{p}{check}" for i, p in enumerate(self.backends))
        text = CONFIG.format(port=self.port, servers=servers)
        return text if self.health_check else text.replace("    option httpchk GET /healthz\n", "")

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
