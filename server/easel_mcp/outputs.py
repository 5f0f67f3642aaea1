"""Writing a call's images and sidecars into a workspace folder (the default image store,
`service.local.WorkspaceOutputs`), and reading them back (for jobs found after a restart).

Synchronous file work: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from easel_mcp import __version__
from easel_mcp.catalog.prices import cost_from_usage
from easel_mcp.providers import bills
from easel_mcp.providers.base import ProviderResult
from easel_mcp.schemas.jobs import JobView
from easel_mcp.schemas.results import ImageOut, ImageResult
from easel_mcp.schemas.sidecar import SIDECAR_VERSION, Sidecar, SidecarInput, SidecarParameters
from easel_mcp.times import sidecar_time
from easel_mcp.uris import image_uri
from easel_mcp.workspace import Workspace

if TYPE_CHECKING:
    from easel_mcp.service.call import Call


def write_outputs(
    workspace: Workspace,
    record: Call,
    result: ProviderResult,
    images: list[bytes],
    elapsed: float,
    estimate_usd: float | None,
    provider_name: str,
    saved: list[ImageOut] | None = None,
) -> ImageResult:
    """Write every image and its sidecar. `images` were decoded already (see `usable_images`);
    each image is appended to `saved` as soon as it is on disk (so a caller knows what a failure kept)."""
    from easel_mcp.imaging.io import open_header

    o = record.options
    cost, cost_note = cost_from_usage(o.model, result.usage)
    cost_is_estimate = False
    if not result.ai_generated:
        cost, cost_note = 0.0, "offline provider: nothing was billed"
    elif cost is None and estimate_usd is not None:
        cost, cost_is_estimate = estimate_usd, True
        cost_note = f"estimated: {cost_note}; the figure is Easel's estimate, not the billed amount"
    now = datetime.now(UTC)
    written: list[ImageOut] = [] if saved is None else saved
    warnings = [*o.warnings, *record.warnings, *result.notes]
    for data in images:
        header, fmt = open_header(data, what="the model's answer")  # fully decoded already: the header suffices
        width, height = header.size
        header.close()
        file = workspace.write_image(data, ext=fmt, label=record.label, when=now)
        written.append(
            ImageOut(
                id=file.id,
                path=workspace.result_path(file.relative_path),
                relative_path=file.relative_path,
                uri=image_uri(file.id),
                width=width,
                height=height,
                format=fmt,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    revised = next((p for p in result.revised_prompts if p), None)
    outcome = ImageResult(
        images=written,
        provider=provider_name,
        model=o.model,
        operation=record.operation,
        size=o.size,
        quality=o.quality,
        usage=result.usage,
        cost_usd=cost,
        cost_note=cost_note,
        cost_is_estimate=cost_is_estimate,
        estimated_cost_usd=estimate_usd,
        revised_prompt=revised,
        elapsed_s=round(elapsed, 3),
        request_id=result.request_id,
        geometry=record.geometry,
        warnings=warnings,
    )
    for index, image in enumerate(written):
        payload = sidecar(workspace, record, outcome, image, index, now)
        workspace.write_sidecar(workspace.root / image.relative_path, payload)
    outcome.warnings.extend(workspace.storage_notes([image.relative_path for image in written]))
    return outcome


def sidecar(
    workspace: Workspace, record: Call, outcome: ImageResult, image: ImageOut, index: int, now: datetime
) -> Sidecar:
    """The sidecar of one image of a call; the call's per-operation facts (`record.extra`: mask, job_id) too."""
    o = record.options
    return Sidecar(
        version=SIDECAR_VERSION,
        easel_version=__version__,
        id=image.id,
        file=Path(image.relative_path).name,
        created_at=sidecar_time(now),
        operation=record.operation,
        prompt=record.prompt,
        revised_prompt=outcome.revised_prompt,
        parameters=SidecarParameters(
            model=o.model,
            size=o.size,
            quality=o.quality,
            n=o.n,
            background=o.background,
            output_format=o.output_format,
            output_compression=o.output_compression,
            moderation=o.moderation,
            input_fidelity=o.input_fidelity,
        ),
        provider=outcome.provider,
        model=o.model,
        ai_generated=bills(outcome.provider),
        index=index,
        siblings=[i.id for i in outcome.images if i.id != image.id],
        usage=outcome.usage,
        cost_usd=outcome.cost_usd,
        cost_note=outcome.cost_note,
        call_cost_usd_shared_by=len(outcome.images),
        estimated_cost_usd=outcome.estimated_cost_usd,
        elapsed_s=outcome.elapsed_s,
        request_id=outcome.request_id,
        width=image.width,
        height=image.height,
        format=image.format,
        sha256=image.sha256,
        inputs=[
            SidecarInput(
                id=i.id,
                path=workspace.relative(i.path) if i.path else i.ref,
                sha256=i.sha256,
                width=i.width,
                height=i.height,
            )
            for i in record.inputs
        ],
        parents=[i.id for i in record.inputs if i.id],
        geometry=record.geometry,
        warnings=outcome.warnings,
        **record.extra,
    )


def rebuild_job(workspace: Workspace, rows: list[dict[str, Any]], job_id: str) -> JobView | None:
    """A job from an earlier run of the server, rebuilt from its ledger rows and the sidecars."""
    if not rows:
        return None
    last = rows[-1]
    images: list[ImageOut] = []
    for rel in last["outputs"]:
        path = workspace.local_file(rel)  # never resolved: a file replaced by a link is not followed
        side = workspace.read_sidecar(path)
        try:
            size = path.lstat().st_size
        except OSError:
            continue
        if side is None or side.id is None or not path.is_file() or path.is_symlink():
            continue
        try:
            image = ImageOut(
                id=side.id,
                path=workspace.result_path(rel),
                relative_path=rel,
                uri=image_uri(side.id),
                width=side.width,
                height=side.height,
                format=side.format,
                bytes=size,
                sha256=side.sha256,
            )
        except ValidationError:  # a sidecar Easel did not write (a field missing): only that image is left out
            continue
        images.append(image)
    # An open row of a shared ledger is a call another replica runs (its sweeper settles it if that one dies);
    # an open row of a workspace's own ledger is one a crashed run left: unknown until recovery settles it.
    running = "running" if last.get("replica") else "unknown"
    status = {
        "ok": "done",
        "error": "failed",
        "cancelled": "cancelled",
        "abandoned": "failed",
        "reserved": running,
        "sent": running,
    }.get(last["status"], "unknown")
    result = None
    if status == "done" and images:
        side = workspace.read_sidecar(workspace.root / images[0].relative_path) or Sidecar()
        params = side.parameters or SidecarParameters()
        result = ImageResult(
            images=images,
            provider=last["provider"],
            model=last["model"],
            operation=last["tool"],
            size=params.size if params.size is not None else "auto",
            quality=params.quality if params.quality is not None else "auto",
            usage=side.usage,
            cost_usd=last.get("cost_usd"),
            estimated_cost_usd=last.get("estimated_usd"),
            revised_prompt=side.revised_prompt,
            elapsed_s=last.get("elapsed_s") or 0.0,
            request_id=last.get("request_id"),
            job_id=job_id,
            attempts=len(rows),
        )
    return JobView(
        job_id=job_id,
        status=status,
        stage=last["status"],
        tool=last["tool"],
        model=last["model"],
        provider=last["provider"],
        estimated_cost_usd=last.get("estimated_usd"),
        result=result,
        error=last.get("error_message"),
    )
