"""Time as Easel writes it: one module, one function per stored or wire format.

Each format is data somewhere, so none of them may change:

    ledger_time   2026-11-25T09:30:00.000000Z        the ledger's columns (SQLite; sorted as text)
    index_time    2026-11-25T09:30:00.000000+00:00   the image index's created_at (sorted as text),
                                                     shown to agents by list_images and get_image
    sidecar_time  2026-11-25T09:30:00.123456+00:00   a sidecar's created_at (Python's isoformat)
    wire_time     2026-11-25T09:30:00.000Z           MCP Tasks' createdAt/lastUpdatedAt (milliseconds)
    day_folder    2026-11-25                         the workspace folder an image is saved in

Base layer: imports nothing of easel_mcp.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc(now: datetime | None = None) -> datetime:
    """`now` as an aware UTC datetime (naive values are taken as UTC); the current time when None."""
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def ledger_time(at: datetime) -> str:
    """UTC, fixed width, sortable as text: 2026-11-25T09:30:00.000000Z."""
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def index_time(at: datetime) -> str:
    """UTC, fixed width, sortable as text: 2026-11-25T09:30:00.000000+00:00."""
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def sidecar_time(at: datetime) -> str:
    """Python's isoformat of the aware time (microseconds only when non-zero)."""
    return at.isoformat()


def wire_time(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds and a Z: 2026-11-25T09:30:00.000Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_folder(when: date) -> str:
    """The workspace's day folder for `when` (a date, or a datetime in the zone the caller chose)."""
    return f"{when:%Y-%m-%d}"


def parse_time(text: str) -> datetime:
    """Any of the formats above (and other ISO 8601 text) -> an aware UTC datetime. ValueError if not one."""
    return utc(datetime.fromisoformat(text.strip()))
