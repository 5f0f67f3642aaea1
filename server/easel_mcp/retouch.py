"""Inpaint and outpaint as an edit: prepare the request (image, mask, size) and finish the answer.

Pixels are done in `imaging/`; this module decides what to send and how to map the model's answer
back onto the source. Everything here is synchronous: call it from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from easel_mcp.catalog import get_model
from easel_mcp.catalog.models import GPT_FIXED, Size, SizeRule
from easel_mcp.imaging.formats import MIME_TYPES
from easel_mcp.providers.base import InputImage

Anchor = Literal["center", "left", "right", "top", "bottom"]
Convention = Literal["auto", "alpha", "white", "black"]
EXACT_FORMATS = ("png",)


@dataclass(slots=True)
class PreparedEdit:
    """What to send for an inpaint/outpaint, and how to turn the answer into the final files."""

    image: InputImage
    mask: bytes
    request_size: Size
    geometry: dict[str, Any]
    finish: Callable[[list[bytes]], list[bytes]]
    warnings: list[str] = field(default_factory=list)


def size_rule(model: str) -> SizeRule:
    """The model's size rule; the fixed GPT sizes for models the catalog does not know."""
    spec = get_model(model)
    return spec.sizes if spec else GPT_FIXED


def _png(img: Any) -> bytes:
    from easel_mcp.imaging.io import encode

    return encode(img, "png")


def _lossy_warning(fmt: str, what: str) -> list[str]:
    if fmt in EXACT_FORMATS:
        return []
    return [
        f"output_format {fmt} is lossy: the {what} pixels were kept exactly before encoding, but {fmt} "
        "compression changes them slightly; use png for byte-exact pixels"
    ]


def prepare_inpaint(
    source_data: bytes,
    *,
    model: str,
    requested_size: Size | None,
    regions: Sequence[dict[str, Any]] = (),
    mask_data: bytes | None = None,
    convention: Convention = "auto",
    feather: int = 4,
    preserve_unmasked: bool = True,
    output_format: str = "png",
    output_compression: int | None = None,
) -> PreparedEdit:
    from PIL import Image

    from easel_mcp.imaging import io as imgio
    from easel_mcp.imaging.composite import composite_over_source
    from easel_mcp.imaging.geometry import plan_inpaint
    from easel_mcp.imaging.masks import Region, feather_alpha, mask_from_regions, normalize_mask, scale_mask

    source = imgio.open_image(source_data, what="the image")
    size = source.size
    if mask_data is not None:
        mask = normalize_mask(mask_data, size, convention)
    else:
        mask = mask_from_regions(size, [Region(**r) for r in regions])
    plan = plan_inpaint(size, size_rule(model), requested_size)
    if plan.resized:
        request_img = imgio.to_rgb(source).resize(plan.request_size, Image.Resampling.LANCZOS)
        image = InputImage(_png(request_img), "image.png", MIME_TYPES["png"])
    else:
        sent, info, _ = imgio.ensure_model_input(source_data, what="the image")
        image = InputImage(sent, f"image.{info.format}", imgio.mime_of(info.format))
    request_mask = scale_mask(mask, plan.request_size)
    weight = feather_alpha(mask, feather) if preserve_unmasked else None

    def finish(outputs: list[bytes]) -> list[bytes]:
        done: list[bytes] = []
        for data in outputs:
            out = imgio.open_image(data, what="the model's answer")
            if weight is not None:
                out = composite_over_source(source, out, weight)
            elif out.size != size:
                out = out.resize(size, Image.Resampling.LANCZOS)
            done.append(imgio.encode(out, output_format, compression=output_compression))
        return done

    geometry = {
        "source_size": list(size),
        "request_size": list(plan.request_size),
        "scale": [round(plan.scale_x, 6), round(plan.scale_y, 6)],
        "resized_for_model": plan.resized,
        "edit_bbox": list(mask.edit_bbox) if mask.edit_bbox else None,
        "edit_fraction": round(mask.edit_fraction, 4),
        "mask_convention": mask.convention_used,
        "mask_resized_from": list(mask.resized_from) if mask.resized_from else None,
        "regions": list(regions) or None,
        "feather": feather,
        "preserve_unmasked": preserve_unmasked,
    }
    readings = {"alpha": "transparent = edit", "white": "white = edit", "black": "black = edit"}
    warnings = (
        []
        if mask_data is None
        else [f"the mask was read with the {mask.convention_used} convention ({readings[mask.convention_used]})"]
    )
    if preserve_unmasked:
        warnings += _lossy_warning(output_format, "unmasked")
    return PreparedEdit(image, request_mask.png, plan.request_size, geometry, finish, warnings)


def prepare_outpaint(
    source_data: bytes,
    *,
    model: str,
    left: int = 0,
    top: int = 0,
    right: int = 0,
    bottom: int = 0,
    aspect_ratio: str | None = None,
    anchor: Anchor = "center",
    preserve_original: bool = True,
    output_format: str = "png",
    output_compression: int | None = None,
) -> PreparedEdit:
    from easel_mcp.imaging import io as imgio
    from easel_mcp.imaging.geometry import plan_outpaint, request_canvas_box
    from easel_mcp.imaging.outpaint import build_outpaint_request, finish_outpaint

    source = imgio.open_image(source_data, what="the image")
    plan = plan_outpaint(
        source.size,
        size_rule(model),
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        aspect_ratio=aspect_ratio,
        anchor=anchor,
    )
    request_img, mask_png = build_outpaint_request(source, plan)

    def finish(outputs: list[bytes]) -> list[bytes]:
        done = []
        for data in outputs:
            out = imgio.open_image(data, what="the model's answer")
            canvas = finish_outpaint(out, source, plan, preserve_original=preserve_original)
            done.append(imgio.encode(canvas, output_format, compression=output_compression))
        return done

    def box(p: Any) -> dict[str, int]:
        return {"x": p.x, "y": p.y, "width": p.width, "height": p.height}

    geometry = {
        "source_size": list(plan.source_size),
        "canvas_size": list(plan.canvas_size),
        "source_box": box(plan.source_box),
        "grow": dict(zip(("left", "top", "right", "bottom"), plan.grow, strict=True)),
        "request_size": list(plan.request_size),
        "scale": round(plan.scale, 6),
        "request_source_box": box(plan.request_source_box),
        "request_canvas_box": box(request_canvas_box(plan)),
        "aspect_ratio": aspect_ratio,
        "anchor": anchor,
        "preserve_original": preserve_original,
    }
    warnings = _lossy_warning(output_format, "original") if preserve_original else []
    image = InputImage(_png(request_img), "canvas.png", MIME_TYPES["png"])
    return PreparedEdit(image, mask_png, plan.request_size, geometry, finish, warnings)


__all__ = [
    "PreparedEdit",
    "prepare_inpaint",
    "prepare_outpaint",
    "size_rule",
]
