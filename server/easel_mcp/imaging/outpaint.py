"""Outpainting in pixels: build the request from a plan, and turn the model's answer into the canvas."""

from __future__ import annotations

from PIL import Image

from ..sizes import format_size
from . import io as imgio
from .composite import paste_original
from .errors import ImagingError
from .geometry import OutpaintPlan, request_canvas_box
from .masks import mask_png_from_edit


def _check(source: Image.Image, plan: OutpaintPlan) -> None:
    if source.size != plan.source_size:
        raise ImagingError(
            f"the image is {source.width}x{source.height} but the outpaint plan was made for "
            f"{format_size(plan.source_size)}: plan again for this image."
        )


def build_outpaint_request(source: Image.Image, plan: OutpaintPlan) -> tuple[Image.Image, bytes]:
    """(request image, mask PNG), both of `plan.request_size`.

    The request image is RGBA: the source scaled (LANCZOS) into `plan.request_source_box`, fully
    transparent (0, 0, 0, 0) everywhere else. The mask's alpha is 0 over everything outside that
    exact box (the new canvas area and any leftover strip around the scaled canvas) and 255 inside
    it: the box is not shrunk, the final `finish_outpaint` pastes the original back anyway.
    """
    _check(source, plan)
    box = plan.request_source_box
    scaled = imgio.to_rgb(source).convert("RGBA")
    if scaled.size != (box.width, box.height):
        scaled = scaled.resize((box.width, box.height), Image.Resampling.LANCZOS)
    request = Image.new("RGBA", plan.request_size, (0, 0, 0, 0))
    request.paste(scaled, (box.x, box.y))
    edit = Image.new("L", plan.request_size, 255)
    edit.paste(0, box.box)
    return request, mask_png_from_edit(edit)


def finish_outpaint(
    model_output: Image.Image, source: Image.Image, plan: OutpaintPlan, *, preserve_original: bool = True
) -> Image.Image:
    """The outpainted canvas, exactly `plan.canvas_size`: the canvas area is cropped from the model's
    output (resized to the request size first if the model answered another size), scaled to the
    canvas size (LANCZOS), and with `preserve_original` the source is pasted back at
    `plan.source_box` at full resolution, byte for byte. RGBA when the source or the output has
    transparency, else RGB."""
    _check(source, plan)
    out = imgio.to_rgb(model_output)
    if out.size != plan.request_size:
        out = out.resize(plan.request_size, Image.Resampling.LANCZOS)
    canvas = out.crop(request_canvas_box(plan).box)
    if canvas.size != plan.canvas_size:
        canvas = canvas.resize(plan.canvas_size, Image.Resampling.LANCZOS)
    mode = "RGBA" if imgio.has_alpha(source) or imgio.has_alpha(model_output) else "RGB"
    canvas = canvas.convert(mode)
    if preserve_original:
        b = plan.source_box
        canvas = paste_original(canvas, source, (b.x, b.y, b.width, b.height))
    return canvas
