"""Inpaint and outpaint as calls: the canvas and mask prepared (in a worker thread, by `retouch`), then
the Call built from them, sending the prepared canvas and mapping the answer back with its `finish`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread

from easel_mcp.checked import close_held
from easel_mcp.retouch import Anchor, Convention, prepare_inpaint, prepare_outpaint, size_rule
from easel_mcp.service.call import Call, Pixels, new_call
from easel_mcp.sizes import Size

if TYPE_CHECKING:
    from easel_mcp.catalog.validate import Options
    from easel_mcp.inputs import LoadedInput
    from easel_mcp.retouch import PreparedEdit


async def inpaint_call(
    prompt: str,
    options: Options,
    provider: str,
    label: str,
    source: LoadedInput,
    *,
    regions: Sequence[dict[str, Any]],
    mask_data: bytes | None,
    convention: Convention,
    feather: int,
    preserve_unmasked: bool,
) -> Call:
    """The inpaint of `source`: the boxes in `regions` (or the area of `mask_data`) repainted."""

    def prepare() -> PreparedEdit:
        return prepare_inpaint(
            source.image.read(),
            model=options.model,
            requested_size=options.dimensions,
            regions=regions,
            mask_data=mask_data,
            convention=convention,
            feather=feather,
            preserve_unmasked=preserve_unmasked,
            output_format=options.output_format,
            output_compression=options.output_compression,
        )

    return await _edit_call("inpaint", prompt, options, provider, label, source, prepare)


async def outpaint_call(
    prompt: str,
    options: Options,
    provider: str,
    label: str,
    source: LoadedInput,
    *,
    left: int,
    top: int,
    right: int,
    bottom: int,
    aspect_ratio: str | None,
    anchor: Anchor,
    preserve_original: bool,
) -> Call:
    """The outpaint of `source`: its canvas grown per side or to an aspect ratio."""

    def prepare() -> PreparedEdit:
        return prepare_outpaint(
            source.image.read(),
            model=options.model,
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            aspect_ratio=aspect_ratio,
            anchor=anchor,
            preserve_original=preserve_original,
            output_format=options.output_format,
            output_compression=options.output_compression,
        )

    return await _edit_call("outpaint", prompt, options, provider, label, source, prepare)


async def _edit_call(
    operation: Literal["inpaint", "outpaint"],
    prompt: str,
    options: Options,
    provider: str,
    label: str,
    source: LoadedInput,
    prepare: Any,
) -> Call:
    try:
        prepared: PreparedEdit = await anyio.to_thread.run_sync(prepare)
    except BaseException:
        close_held([source.image])  # no call will hold it
        raise
    return new_call(
        operation,
        prompt,
        replace(options, dimensions=Size(*prepared.request_size)),
        provider,
        label,
        inputs=[source],
        sent=[prepared.image],
        mask=prepared.mask,
        geometry=prepared.geometry,
        warnings=prepared.warnings,
        input_sizes=[prepared.request_size],
        finish=prepared.finish,
        wire_format="png",  # lossless from the model; the final format is encoded after compositing
    )


def plan_geometry(
    operation: str,
    source: Pixels,
    model: str,
    requested: Pixels | None,
    left: int,
    top: int,
    right: int,
    bottom: int,
    aspect_ratio: str | None,
    anchor: Anchor,
) -> tuple[Size, dict[str, Any]]:
    """The request size and geometry an inpaint/outpaint of a `source`-sized image would use (pure arithmetic,
    the functions the real call uses): what estimate_cost prices."""
    from easel_mcp.imaging.geometry import plan_inpaint, plan_outpaint

    rule = size_rule(model)
    if operation == "inpaint":
        plan = plan_inpaint(source, rule, requested)
        return Size(*plan.request_size), {"source_size": list(source), "request_size": list(plan.request_size)}
    out = plan_outpaint(
        source, rule, left=left, top=top, right=right, bottom=bottom, aspect_ratio=aspect_ratio, anchor=anchor
    )
    return Size(*out.request_size), {
        "source_size": list(source),
        "canvas_size": list(out.canvas_size),
        "request_size": list(out.request_size),
    }


__all__ = ["Anchor", "inpaint_call", "outpaint_call", "plan_geometry"]
