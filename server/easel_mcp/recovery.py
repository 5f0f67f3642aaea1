"""After a crash: settle the ledger rows of calls whose process died, from the files they wrote.

A row left open by a dead process either wrote its images (each sidecar names the job): then it is
settled 'ok' with the cost from the sidecar; or it did not, and it is marked abandoned, still
counting its reservation (the upstream may have billed it).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from easel_mcp.catalog.prices import cost_from_usage
from easel_mcp.ledger import Attempt
from easel_mcp.providers import bills
from easel_mcp.schemas.sidecar import Sidecar
from easel_mcp.storage.ports import LedgerPort
from easel_mcp.times import day_folder, parse_time
from easel_mcp.workspace import Workspace

log = logging.getLogger("easel_mcp")


def _ours(row: dict[str, Any]) -> bool:
    """Whether this machine wrote the row (a shared ledger also holds other replicas' rows: their pids mean
    nothing here)."""
    replica = row.get("replica")
    return not replica or str(replica).rsplit(":", 1)[0] == socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, someone else's
        return True
    return True


def _sidecars_of_job(workspace: Workspace, job_id: str, started: datetime) -> list[tuple[Sidecar, str]]:
    """The sidecars that name the job (written on the day it started or the next), each with its image's
    workspace-relative path."""
    found = []
    for day in sorted({started.date(), (started + timedelta(days=1)).date()}):
        folder = workspace.root / day_folder(day)
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in folder.glob("*.json"):
            side = workspace.read_sidecar(path)  # regular files only, capped: a FIFO or link never blocks start-up
            if side is None:
                log.warning("recovery: skipped %s (not a readable sidecar)", path.name)
                continue
            if side.job_id == job_id and side.file and Path(side.file).name:
                found.append((side, workspace.relative(path.with_name(Path(side.file).name))))
    return found


def recover(workspace: Workspace, ledger: LedgerPort) -> int:
    """Settle open rows of dead processes; return how many were recovered with their images."""
    if not ledger.exists():
        return 0
    recovered = 0
    for row in ledger.find_open():
        if not _ours(row) or pid_alive(row.get("pid")) or not row.get("job_id"):
            continue
        try:
            area = workspace.for_user(row["user_id"]) if row.get("user_id") else workspace  # a user's own folder
            recovered += _recover_row(area, ledger, row)
        except Exception as e:  # one bad row must not stop the server from starting
            log.warning("recovery: skipped ledger row %s (%s: %s)", row.get("id"), type(e).__name__, str(e)[:200])
    return recovered


def _recover_row(workspace: Workspace, ledger: LedgerPort, row: dict[str, Any]) -> int:
    started = parse_time(row["started_at"])
    attempt = Attempt(row["id"], started, row.get("estimated_usd"), row.get("reserved_usd") or 0.0)
    sides = _sidecars_of_job(workspace, row["job_id"], started)
    if not sides:
        return 0  # abandon_stale marks it later; it keeps counting its reservation
    first = sides[0][0]
    usage = first.usage
    cost, _ = cost_from_usage(row["model"], usage)
    billed = bills(first.provider)
    if not billed:
        cost = 0.0
    ledger.settle(
        attempt,
        status="ok",
        cost_usd=cost,
        usage=usage,
        request_id=first.request_id,
        outputs=[rel for _, rel in sides],
        elapsed_s=first.elapsed_s,
        billed=billed,
    )
    log.warning("recovered call %s (job %s) from a previous run: %d image(s)", row["id"], row["job_id"], len(sides))
    return 1
