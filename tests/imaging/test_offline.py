"""The offline renderer: exact sizes and formats, determinism, and the API's mask rule."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from easel_mcp.imaging import io as imgio
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.imaging.masks import Region, mask_from_regions
from easel_mcp.imaging.offline import render_edit, render_generation


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
@pytest.mark.parametrize("size", [(320, 200), (64, 96), (1, 1)])
def test_generation_size_format_determinism(fmt: str, size: tuple[int, int]) -> None:
    data = render_generation("a lighthouse at dusk", size, fmt=fmt, compression=20)
    info = imgio.probe(data)
    assert (info.format, info.width, info.height) == (fmt, *size)
    assert data == render_generation("a lighthouse at dusk", size, fmt=fmt, compression=20)
    assert data != render_generation("a lighthouse at dusk", size, fmt=fmt, compression=20, index=1) or size == (1, 1)


def test_different_prompts_differ_and_long_prompts_fit() -> None:
    a = render_generation("red", (200, 120))
    assert a != render_generation("blue", (200, 120))
    long = render_generation("word " * 8000 + "x" * 500 + " — ünïcödé 日本", (400, 300))
    assert Image.open(io.BytesIO(long)).size == (400, 300)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_transparent_background(fmt: str) -> None:
    img = Image.open(io.BytesIO(render_generation("a sticker", (256, 256), fmt=fmt, background="transparent")))
    assert img.mode == "RGBA"
    lo, hi = img.getchannel("A").getextrema()
    assert lo == 0 and hi == 255
    opaque = Image.open(io.BytesIO(render_generation("a sticker", (256, 256), fmt=fmt)))
    assert opaque.mode == "RGB"
    with pytest.raises(ImagingError, match="png or webp"):
        render_generation("a sticker", (256, 256), fmt="jpeg", background="transparent")
    with pytest.raises(ImagingError, match="background"):
        render_generation("a sticker", (256, 256), background="glass")


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_edit_changes_only_alpha_zero_pixels(mode: str, fmt: str) -> None:
    source = Image.effect_noise((240, 160), 60).convert(mode)
    if mode == "RGBA":
        source.paste((7, 8, 9, 0), (0, 0, 20, 20))  # some transparency, outside the edit area
    mask = mask_from_regions(source.size, [Region(30, 20, 150, 90, "ellipse"), Region(200, 100, 10, 10)])
    out = Image.open(
        io.BytesIO(
            render_edit(source, mask.png, "a cat", source.size, fmt=fmt, compression=0 if fmt == "webp" else None)
        )
    )
    assert out.size == source.size and out.mode == mode
    keep = Image.open(io.BytesIO(mask.png)).getchannel("A")  # 255 = keep
    diff = ImageChops.difference(out.convert("RGBA"), source.convert("RGBA"))
    changed = Image.new("L", source.size, 0)
    for band in diff.split():
        changed = ImageChops.lighter(changed, band)
    assert ImageChops.multiply(changed, keep).getbbox() is None  # nothing changed where alpha != 0
    kept_out = Image.composite(out.convert("RGBA"), Image.new("RGBA", source.size), keep)
    kept_src = Image.composite(source.convert("RGBA"), Image.new("RGBA", source.size), keep)
    assert kept_out.tobytes() == kept_src.tobytes()  # byte-exact
    edited = ImageChops.multiply(changed.point(lambda v: 255 if v else 0), ImageChops.invert(keep))
    assert edited.histogram()[255] > 0.9 * ImageChops.invert(keep).histogram()[255]  # the area is repainted
    again = render_edit(source, mask.png, "a cat", source.size, fmt=fmt, compression=0 if fmt == "webp" else None)
    assert again == render_edit(
        source, mask.png, "a cat", source.size, fmt=fmt, compression=0 if fmt == "webp" else None
    )


def test_edit_resizes_and_checks_the_mask() -> None:
    source = Image.effect_noise((200, 100), 60).convert("RGB")
    mask = mask_from_regions(source.size, [Region(10, 10, 50, 50)])
    out = render_edit(source, mask.png, "x", (400, 200), fmt="jpeg")
    assert imgio.probe(out).format == "jpeg" and imgio.probe(out).width == 400
    with pytest.raises(ImagingError, match="same size"):
        render_edit(source, mask_from_regions((100, 50), [Region(1, 1, 5, 5)]).png, "x", (200, 100))
    opaque = io.BytesIO()
    Image.new("L", (200, 100), 255).save(opaque, "PNG")
    with pytest.raises(ImagingError, match="alpha channel"):
        render_edit(source, opaque.getvalue(), "x", (200, 100))
    jpeg_mask = io.BytesIO()
    Image.new("RGB", (200, 100)).save(jpeg_mask, "JPEG")
    with pytest.raises(ImagingError, match="PNG"):
        render_edit(source, jpeg_mask.getvalue(), "x", (200, 100))


def test_edit_without_mask_repaints_everything() -> None:
    source = Image.new("RGB", (160, 120), (10, 200, 30))
    out = Image.open(io.BytesIO(render_edit(source, None, "night", (160, 120))))
    assert out.size == (160, 120) and out.getpixel((80, 119)) != (10, 200, 30)
    assert render_edit(source, None, "night", (160, 120)) == render_edit(source, None, "night", (160, 120))
