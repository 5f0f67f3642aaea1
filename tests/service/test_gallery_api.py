"""What the browser gallery's JSON API asks of the service, without the web app: a page of index entries, one
image's details, the file to serve, the filter values, and the spend report over a ledger (in memory, or none)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from easel_mcp.budgets import parse_since
from easel_mcp.errors import InvalidRequest
from easel_mcp.service.gallery import gallery_facets, gallery_file, gallery_image, image_page, since_arg
from easel_mcp.service.spend import spend_report
from easel_mcp.workspace import Workspace
from tests.service.fakes import png
from tests.service.test_gallery import MemoryIndex, entry, written


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def page(index: Any, **kw: Any) -> tuple[list[Any], str | None, int]:
    args = {"query": None, "since": None, "model": None, "tool": None, "limit": 50, "cursor": None, **kw}
    return image_page(index, **args)


# ---------------------------------------------------------------- a page, `since`


def test_a_page_is_the_index_s_own_entries_after_a_refresh_with_the_cursor_and_the_total() -> None:
    entries = [entry(f"{i:012x}", f"2026-01-02/img-{i:012x}.png") for i in range(3)]
    index = MemoryIndex(entries)
    found, cursor, total = page(index, query="red", tool="edit", limit=2)
    assert found == entries[:2] and cursor == "next" and total == 3 and index.refreshed == 1
    assert index.asked == [{"text": "red", "since": None, "model": None, "tool": "edit", "limit": 2, "cursor": None}]


def test_a_cursor_the_index_did_not_return_is_an_invalid_request_with_the_index_s_message() -> None:
    with pytest.raises(InvalidRequest, match=r"^start again without it$") as refused:
        page(MemoryIndex(refuse="start again without it"), cursor="forged")
    assert refused.value.field == "cursor"


def test_since_is_none_when_empty_a_time_when_read_and_an_invalid_request_with_the_parser_s_message() -> None:
    assert since_arg(None) is None and since_arg("") is None
    at = since_arg("24h")
    assert at is not None and abs(datetime.now(UTC) - timedelta(hours=24) - at) < timedelta(minutes=5)
    with pytest.raises(ValueError) as parser:
        parse_since("soon")
    with pytest.raises(InvalidRequest) as refused:
        since_arg("soon")
    assert refused.value.field == "since" and str(refused.value) == str(parser.value)


# ---------------------------------------------------------------- one image, its file, the facets


def test_an_image_is_its_entry_sidecar_lineage_and_children_ids(workspace: Workspace) -> None:
    image_id, rel = written(workspace, "the image")
    child_id, child_rel = written(workspace, "the child")
    index = MemoryIndex([entry(image_id, rel), entry(child_id, child_rel, parents=(image_id,))])
    shown = gallery_image(index, workspace, image_id)  # type: ignore[arg-type]
    assert shown == {
        "entry": entry(image_id, rel).to_dict(),
        "sidecar": {"version": 1, "id": image_id, "prompt": "the image", "model": "gpt-image-1.5"},
        "lineage": {"root": image_id, "depth": 10},
        "children": [child_id],
    }
    assert list(shown) == ["entry", "sidecar", "lineage", "children"]  # the order the API has always sent


def test_an_image_without_a_sidecar_shows_none(workspace: Workspace) -> None:
    image_id, rel = written(workspace)
    (workspace.root / rel).with_suffix(".json").unlink()
    shown = gallery_image(MemoryIndex([entry(image_id, rel)]), workspace, image_id)  # type: ignore[arg-type]
    assert shown is not None and shown["sidecar"] is None


def test_ids_are_taken_as_given_and_an_unknown_one_is_none(workspace: Workspace) -> None:
    image_id, rel = written(workspace)
    index = MemoryIndex([entry(image_id, rel)])
    for asked in (image_id.upper(), f" {image_id}", "0123456789ab", "../../etc/passwd"):
        assert gallery_image(index, workspace, asked) is None  # type: ignore[arg-type]
        assert gallery_file(index, workspace, asked) is None  # type: ignore[arg-type]


def test_the_file_is_the_image_s_own_and_none_once_it_became_a_link(workspace: Workspace, tmp_path: Path) -> None:
    image_id, rel = written(workspace)
    index = MemoryIndex([entry(image_id, rel)])
    workspace.index = index  # as an ImageIndex attaches itself: the resolver checks its answer on disk
    assert gallery_file(index, workspace, image_id) == workspace.root / rel  # type: ignore[arg-type]
    outside = tmp_path / "secret.png"
    outside.write_bytes(png())
    os.replace(workspace.root / rel, tmp_path / "moved.png")
    (workspace.root / rel).symlink_to(outside)
    assert gallery_file(index, workspace, image_id) is None  # type: ignore[arg-type]
    assert gallery_image(index, workspace, image_id) is None  # type: ignore[arg-type]


@dataclass
class FacetIndex(MemoryIndex):
    def facets(self) -> dict[str, list[str]]:
        return {"models": sorted({e.model for e in self.entries}), "tools": sorted({e.operation for e in self.entries})}


def test_the_facets_are_the_index_s_with_the_total_after_a_refresh() -> None:
    index = FacetIndex([entry("0123456789ab", "a.png"), entry("0123456789ac", "b.png", parents=("0123456789ab",))])
    assert gallery_facets(index) == {"models": ["gpt-image-1.5"], "tools": ["edit", "generate"], "total": 2}  # type: ignore[arg-type]
    assert index.refreshed == 1


# ---------------------------------------------------------------- spend


@dataclass
class MemoryLedger:
    """Answers report() with what it was asked (the sums a real ledger adds up are its own tests')."""

    asked: list[dict[str, Any]] = field(default_factory=list)

    def report(self, *, since: datetime | None, by: str | None, user: str | None = None) -> dict[str, Any]:
        self.asked.append({"since": since, "by": by, "user": user})
        return {"since": since, "by": by, "user": user}


def test_the_report_is_grouped_since_when_asked_and_the_totals_are_today_month_and_all_time() -> None:
    ledger = MemoryLedger()
    now = datetime.now(UTC)
    spent = spend_report(lambda: ledger, by="model", since="7d", user="ada")  # type: ignore[arg-type,return-value]
    assert list(spent) == ["report", "totals"] and list(spent["totals"]) == ["today", "month", "all_time"]
    report, totals = spent["report"], spent["totals"]
    assert report["by"] == "model" and report["user"] == "ada"
    assert abs(now - timedelta(days=7) - report["since"]) < timedelta(minutes=5)
    assert totals["today"]["since"] == now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert totals["month"]["since"] == now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert totals["all_time"]["since"] is None
    assert all(t["by"] is None and t["user"] == "ada" for t in totals.values())


def test_without_a_ledger_every_sum_is_zero_in_the_order_the_gallery_sends() -> None:
    spent = spend_report(lambda: None, by="tool", since="30d")
    zero = {
        "calls": 0,
        "images": 0,
        "cost_usd": 0.0,
        "estimated_usd": 0.0,
        "failed": 0,
        "open": 0,
        "groups": [],
        "since": None,
        "by": None,
    }
    assert spent == {"report": {**zero, "by": "tool"}, "totals": {"today": zero, "month": zero, "all_time": zero}}
    assert list(spent["report"]) == list(zero) and list(spent["totals"]["today"]) == list(zero)


def test_a_bad_group_or_since_is_refused_before_the_ledger_is_opened() -> None:
    opened: list[bool] = []

    def ledger() -> None:
        opened.append(True)

    with pytest.raises(InvalidRequest, match=r"^by must be one of day, model, tool, provider$") as refused:
        spend_report(ledger, by="colour", since="soon")  # the group first, as the gallery always checked
    assert refused.value.field == "by"
    with pytest.raises(InvalidRequest) as refused:
        spend_report(ledger, by="day", since="soon")
    assert refused.value.field == "since" and opened == []
