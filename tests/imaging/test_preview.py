"""Previews: size, budget and speed."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from easel_mcp.imaging.errors import ImagingError
from easel_mcp.imaging.preview import MIN_PREVIEW_BYTES, make_preview, preview_budget_split


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    grad = Image.linear_gradient("L").resize(size)
    img = Image.merge("RGB", (grad, Image.radial_gradient("L").resize(size), Image.effect_noise(size, 24)))
    return img.convert(mode)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def test_4k_png_preview_is_small() -> None:
    data = _png(_picture((3840, 2160)))
    make_preview(data, 150_000)  # warm up plugins
    start = time.perf_counter()
    p = make_preview(data, 150_000)
    elapsed = time.perf_counter() - start
    print(f"\npreview of a 3840x2160 PNG ({len(data):,} bytes): {elapsed * 1000:.0f} ms, {len(p.data):,} bytes")
    assert len(p.data) <= 150_000 and (p.width, p.height) == (512, 288)
    assert p.mime_type == "image/webp" and Image.open(io.BytesIO(p.data)).size == (512, 288)


def test_four_previews_share_a_budget() -> None:
    data = _png(_picture((1536, 1024)))
    each = preview_budget_split(200_000, 4)
    previews = [make_preview(data, each) for _ in range(4)]
    assert sum(len(p.data) for p in previews) < 200_000
    assert preview_budget_split(1000, 4) == MIN_PREVIEW_BYTES and preview_budget_split(10_000, 0) == 10_000


def test_tiny_budget_is_met_by_shrinking() -> None:
    data = _png(_picture((1536, 1024)))
    p = make_preview(data, MIN_PREVIEW_BYTES)
    assert len(p.data) <= MIN_PREVIEW_BYTES and p.width < 768
    with pytest.raises(ImagingError, match="2048"):
        make_preview(data, 1000)


def test_jpeg_output_alpha_and_no_upscale() -> None:
    rgba = _picture((300, 200), "RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, 150, 200))
    data = _png(rgba)
    webp = make_preview(data, 100_000)
    assert (webp.width, webp.height) == (300, 200) and Image.open(io.BytesIO(webp.data)).mode == "RGBA"
    jpeg = make_preview(data, 100_000, fmt="jpeg", max_edge=100)
    back = Image.open(io.BytesIO(jpeg.data))
    assert jpeg.mime_type == "image/jpeg" and back.size == (100, 67) and back.getpixel((5, 30)) == (255, 255, 255)


def test_jpeg_source_uses_draft() -> None:
    buf = io.BytesIO()
    _picture((3000, 2000)).save(buf, "JPEG", quality=85)
    p = make_preview(buf.getvalue(), 80_000, max_edge=512)
    assert (p.width, p.height) == (512, 341) and len(p.data) <= 80_000
