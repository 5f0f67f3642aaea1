"""The gallery service (list_images and get_image without the server) over an in-memory index and a workspace in
a temporary folder, and result previews read through the caller's workspace (`Workspace.local_file`)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from easel_mcp.errors import InvalidRequest
from easel_mcp.index_rows import ImageEntry
from easel_mcp.schemas.results import ImageOut, ImageResult
from easel_mcp.schemas.sidecar import Sidecar
from easel_mcp.service.gallery import image_detail, list_images
from easel_mcp.service.previews import keep_previews, result_previews
from easel_mcp.workspace import Workspace
from tests.service.fakes import png


def entry(image_id: str, rel: str, *, parents: tuple[str, ...] = (), created_at: str = "2026-01-02T03:04:05Z") -> Any:
    return ImageEntry(
        id=image_id,
        relative_path=rel,
        created_at=created_at,
        operation="generate" if not parents else "edit",
        prompt="a red square",
        model="gpt-image-1.5",
        provider="openai",
        width=8,
        height=8,
        format="png",
        bytes=100,
        cost_usd=0.01,
        parents=parents,
        name_slug="a-red-square",
    )


@dataclass
class MemoryIndex:
    """The reads of an image index over a list, newest first; records what it was asked."""

    entries: list[Any] = field(default_factory=list)
    refreshed: int = 0
    asked: list[dict[str, Any]] = field(default_factory=list)
    refuse: str | None = None  # a ValueError for every query (a cursor it did not return)

    def refresh(self, *, full: bool = False) -> int:
        self.refreshed += 1
        return 0

    def query(self, **kw: Any) -> tuple[list[Any], str | None]:
        self.asked.append(kw)
        if self.refuse:
            raise ValueError(self.refuse)
        return self.entries[: kw["limit"]], ("next" if len(self.entries) > kw["limit"] else None)

    def get(self, image_id: str) -> Any:
        return next((e for e in self.entries if e.id == image_id), None)

    def children(self, image_id: str) -> list[Any]:
        return [e for e in self.entries if image_id in e.parents]

    def lineage(self, image_id: str, depth: int = 10) -> dict[str, Any]:
        return {"root": image_id, "depth": depth}

    def count(self) -> int:
        return len(self.entries)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def written(workspace: Workspace, label: str = "a red square", size: int = 8) -> tuple[str, str]:
    """An image (with its sidecar) written as the image tools write them: its id and relative path."""
    image = workspace.write_image(png(size, size), ext="png", label=label)
    workspace.write_sidecar(image.path, Sidecar(id=image.id, prompt=label, model="gpt-image-1.5"))
    return image.id, image.relative_path


# ---------------------------------------------------------------- list_images


def test_a_page_is_the_index_s_summaries_after_a_refresh_with_the_total_and_the_next_cursor() -> None:
    index = MemoryIndex([entry(f"{i:012x}", f"2026-01-02/img-{i:012x}.png") for i in range(3)])
    page = list_images(index, query="red", model="gpt-image-1.5", tool="generate", limit=2)  # type: ignore[arg-type]
    assert index.refreshed == 1 and page.total == 3 and page.next_cursor == "next"
    assert [i.id for i in page.images] == ["000000000000", "000000000001"]
    first = page.images[0]
    assert first.uri == "easel://images/000000000000" and first.parents == [] and first.cost_usd == 0.01
    assert index.asked == [
        {"text": "red", "since": None, "model": "gpt-image-1.5", "tool": "generate", "limit": 2, "cursor": None}
    ]


def test_since_is_read_as_people_write_it_and_a_bad_one_is_refused_before_the_index_is_asked() -> None:
    index = MemoryIndex()
    list_images(index, since="7d")  # type: ignore[arg-type]
    since = index.asked[0]["since"]
    assert isinstance(since, datetime) and abs(datetime.now(UTC) - timedelta(days=7) - since) < timedelta(minutes=5)
    with pytest.raises(InvalidRequest) as refused:
        list_images(index, since="last blue moon")  # type: ignore[arg-type]
    assert refused.value.field == "since" and len(index.asked) == 1 and index.refreshed == 1


def test_a_cursor_the_index_did_not_return_is_an_invalid_request_with_its_message() -> None:
    with pytest.raises(InvalidRequest, match="not a cursor of mine") as refused:
        list_images(MemoryIndex(refuse="not a cursor of mine"), cursor="forged")  # type: ignore[arg-type]
    assert refused.value.field == "cursor"


# ---------------------------------------------------------------- get_image


def test_an_image_s_details_are_its_entry_sidecar_lineage_and_a_preview(workspace: Workspace) -> None:
    parent_id, parent_rel = written(workspace, "the parent")
    image_id, rel = written(workspace, "the image")
    child_id, child_rel = written(workspace, "the child")
    index = MemoryIndex(
        [
            entry(parent_id, parent_rel),
            entry(image_id, rel, parents=(parent_id, "0123456789ab")),  # one parent since deleted
            entry(child_id, child_rel, parents=(image_id,)),
        ]
    )
    detail, shown = image_detail(index, workspace, f"  {image_id.upper()} ", preview=True, preview_max_bytes=70_000)  # type: ignore[arg-type]
    assert detail.image.id == image_id and detail.path == str(workspace.root / rel)
    assert detail.sidecar == {"version": 1, "id": image_id, "prompt": "the image", "model": "gpt-image-1.5"}
    assert [p.id for p in detail.parents] == [parent_id] and [c.id for c in detail.children] == [child_id]
    assert detail.lineage == {"root": image_id, "depth": 10}
    assert shown is not None and shown.mime_type == "image/jpeg" and shown.data[:2] == b"\xff\xd8"
    again, none = image_detail(index, workspace, image_id, preview=False, preview_max_bytes=70_000)  # type: ignore[arg-type]
    assert none is None and again == detail


def test_an_unknown_id_names_the_workspace_and_list_images(workspace: Workspace) -> None:
    with pytest.raises(InvalidRequest, match="list_images shows what there is") as refused:
        image_detail(MemoryIndex(), workspace, "0123456789ab", preview=True, preview_max_bytes=70_000)  # type: ignore[arg-type]
    assert refused.value.field == "id" and str(workspace.root) in str(refused.value)
    assert "'0123456789ab'" in str(refused.value)


def test_an_image_deleted_since_it_was_indexed_has_its_details_without_a_preview(workspace: Workspace) -> None:
    image_id, rel = written(workspace)
    (workspace.root / rel).unlink()
    index = MemoryIndex([entry(image_id, rel)])
    detail, shown = image_detail(index, workspace, image_id, preview=True, preview_max_bytes=70_000)  # type: ignore[arg-type]
    assert detail.image.relative_path == rel and shown is None


# ---------------------------------------------------------------- result previews


class CacheWorkspace(Workspace):
    """A workspace whose files are kept elsewhere (as with an object store): `local_file` is where they are read."""

    asked: list[str]

    def local_file(self, relative_path: str) -> Path:
        self.asked.append(relative_path)
        return super().local_file(relative_path)


def result_of(workspace: Workspace, rel: str, image_id: str, *, path: str | None = None) -> ImageResult:
    data = (workspace.root / rel).read_bytes()
    image = ImageOut(
        id=image_id,
        path=path or str(workspace.root / rel),
        relative_path=rel,
        uri=f"easel://images/{image_id}",
        width=8,
        height=8,
        format="png",
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return ImageResult(
        images=[image],
        provider="openai",
        model="gpt-image-1.5",
        operation="generate",
        size="8x8",
        quality="low",
        elapsed_s=0.1,
    )


def test_previews_read_each_image_through_the_caller_s_workspace_whatever_its_path_says(tmp_path: Path) -> None:
    workspace = CacheWorkspace.open(tmp_path / "ws")
    workspace.asked = []
    image_id, rel = written(workspace)
    result = result_of(workspace, rel, image_id, path=f"s3://bucket/{rel}")  # a store's URL: never read as a path
    [(shown, note)] = result_previews(result, "auto", 200_000, 70_000, workspace)
    assert note is None and shown is not None and shown.mime_type == "image/jpeg"
    assert workspace.asked == [rel]
    [(full, note)] = result_previews(result, "full", 200_000, 70_000, workspace)
    assert note is None and full is not None and full.data == (workspace.root / rel).read_bytes()


def test_a_result_image_that_became_a_link_is_not_followed_the_result_stands_with_a_note(
    workspace: Workspace, tmp_path: Path
) -> None:
    image_id, rel = written(workspace)
    outside = tmp_path / "secret.png"
    outside.write_bytes(png())
    os.replace(workspace.root / rel, tmp_path / "moved.png")
    (workspace.root / rel).symlink_to(outside)
    [(shown, note)] = result_previews(result_of(workspace, rel, image_id), "auto", 200_000, 70_000, workspace)
    assert shown is None and note is not None and note.startswith(f"no preview of {rel}: ")


def test_a_preview_cut_while_the_answer_was_checked_is_used_before_any_file_is_read(tmp_path: Path) -> None:
    from easel_mcp.imaging.preview import preview_source

    workspace = CacheWorkspace.open(tmp_path / "ws")
    workspace.asked = []
    image_id, rel = written(workspace)
    result = result_of(workspace, rel, image_id)
    keep_previews(result.images, [preview_source(Image.new("RGB", (8, 8), (0, 90, 200)))])
    (workspace.root / rel).unlink()  # nothing on disk to read: the kept preview is all there is
    [(shown, note)] = result_previews(result, "auto", 200_000, 70_000, workspace)
    assert note is None and shown is not None and shown.mime_type == "image/jpeg" and workspace.asked == []
    [(_, again)] = result_previews(result, "auto", 200_000, 70_000, workspace)  # taken once: now the file is read
    assert again is not None and again.startswith(f"no preview of {rel}") and workspace.asked == [rel]


def test_a_kept_preview_is_dropped_when_the_result_asks_for_none(tmp_path: Path) -> None:
    """preview=none takes the kept cut too: it does not linger in memory for a result that will never show it."""
    from easel_mcp.imaging.preview import preview_source

    workspace = CacheWorkspace.open(tmp_path / "ws")
    workspace.asked = []
    image_id, rel = written(workspace)
    result = result_of(workspace, rel, image_id)
    keep_previews(result.images, [preview_source(Image.new("RGB", (8, 8), (0, 90, 200)))])
    assert result_previews(result, "none", 200_000, 70_000, workspace) == [(None, None)]
    (workspace.root / rel).unlink()
    [(shown, note)] = result_previews(result, "auto", 200_000, 70_000, workspace)  # nothing kept: the file is read
    assert shown is None and note is not None and note.startswith(f"no preview of {rel}")
