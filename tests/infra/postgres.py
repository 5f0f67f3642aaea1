"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temporary folder, a loopback port.

PostgreSQL refuses to run as root, and CI runs as root: there the cluster belongs to the unprivileged
`postgres` user that Debian's package creates, and its commands run through `runuser`. Every test gets a
database of its own (`new_database()`); the cluster is stopped and its folder removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SEARCH = (Path("/usr/lib/postgresql"),)
INSTALL_HINT = "apt-get install postgresql"
SUPERUSER = "easel"


def find_bin_dir() -> Path | None:
    """The newest installed server's bin folder (Debian keeps one per major version), or None."""
    candidates = [p / "bin" for root in SEARCH if root.is_dir() for p in root.iterdir() if (p / "bin/initdb").is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def missing_reason() -> str | None:
    if find_bin_dir() is None:
        return f"PostgreSQL's server is not installed ({INSTALL_HINT})"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser (util-linux) to start PostgreSQL as the postgres user"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the postgres user that Debian's postgresql package creates"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    root: Path
    port: int = field(default_factory=_free_port)
    bin_dir: Path = field(default_factory=lambda: find_bin_dir() or Path("/nonexistent"))
    _databases: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the server (same data, same port): what a failover or an upgrade does to clients."""
        self.stop_server()
        self.start_server()

    def stop_server(self) -> None:
        """Stop the server as an administrator would (`pg_ctl stop -m fast`: open sessions are ended); the data
        and the port stay, for start_server()."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_cluster() -> PostgresCluster:
    root = Path(tempfile.mkdtemp(prefix="easel-pg-"))
    os.chmod(root, 0o755)
    return PostgresCluster(root / "cluster").start()
