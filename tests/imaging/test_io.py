"""Safe decoding, encoding and model-input checks."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from easel_mcp.imaging import io as imgio
from easel_mcp.imaging.errors import ImagingError


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    grad = Image.linear_gradient("L").resize((96, 64))
    return Image.merge("RGB", (grad, Image.effect_noise((96, 64), 40), grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


@pytest.mark.parametrize(
    ("fmt", "mode", "alpha"),
    [("PNG", "RGBA", True), ("JPEG", "RGB", False), ("WEBP", "RGBA", True), ("PNG", "L", False)],
)
def test_probe_and_open_each_format(photo: Image.Image, fmt: str, mode: str, alpha: bool) -> None:
    img = photo.convert(mode)
    if alpha:
        img.paste((0, 0, 0, 0), (0, 0, 8, 8))
    data = _save(img, fmt)
    info = imgio.probe(data, what="image 2")
    assert (info.format, info.width, info.height, info.has_alpha, info.bytes) == (
        {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}[fmt],
        96,
        64,
        alpha,
        len(data),
    )
    opened = imgio.open_image(data)
    assert opened.size == (96, 64)
    opened.getpixel((5, 5))  # decoded
    same, info2, converted = imgio.ensure_model_input(data, what="image 2")
    assert same is data and not converted and info2 == info


def test_palette_with_transparency_has_alpha(photo: Image.Image) -> None:
    data = _save(photo.convert("P"), "PNG", transparency=0)
    assert imgio.probe(data).has_alpha


def test_sixteen_bit_and_cmyk(photo: Image.Image) -> None:
    grey16 = photo.convert("L").convert("I").point(lambda v: v * 256).convert("I;16")
    img = imgio.open_image(_save(grey16, "PNG"))
    assert img.mode.startswith("I") and max(imgio.to_8bit_grey(img).tobytes()) > 200
    info = imgio.probe(_save(photo.convert("CMYK"), "JPEG"))
    assert info.mode == "CMYK"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_refused(photo: Image.Image, fmt: str) -> None:
    data = _save(photo, fmt)
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(ImagingError, match=r"damaged|truncated"):
        imgio.probe(cut, what="the mask")
    with pytest.raises(ImagingError, match=r"damaged|truncated"):
        imgio.open_image(cut)


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_formats_refused_by_probe_but_converted(photo: Image.Image, fmt: str, name: str) -> None:
    data = _save(photo, fmt)
    with pytest.raises(ImagingError, match=rf"Image 3 is an? {name}.*PNG, JPEG and WebP"):
        imgio.probe(data, what="image 3")
    png, info, converted = imgio.ensure_model_input(data, what="image 3")
    assert converted and info.format == "png" and png.startswith(b"\x89PNG") and (info.width, info.height) == (96, 64)


def test_animated_gif_refused(photo: Image.Image) -> None:
    frames = [photo.convert("P"), photo.rotate(180).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImagingError, match="animated"):
        imgio.ensure_model_input(buf.getvalue(), what="image 1")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"this is not a PNG, just text pretending to be one", "text"),
        (b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk", "base64"),
        (b"\x00\x01\x02\x03garbage", "not a recognisable image"),
        (b"", "empty"),
    ],
)
def test_non_images_refused(data: bytes, words: str) -> None:
    with pytest.raises(ImagingError, match=words):
        imgio.probe(data)


def test_oversized_file_refused() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(imgio.MAX_INPUT_BYTES)
    with pytest.raises(ImagingError, match=r"50\.0 MB"):
        imgio.ensure_model_input(data, what="image 1")


def test_decompression_bombs_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    header_only = _png_header(100_000, 100_000) + _chunk(b"IEND", b"")
    rows = 6000 * (1 + 6000 // 8)  # a real, valid 6000x6000 1-bit PNG of ~5 KB: 36 MP > the cap
    real = _png_header(6000, 6000, bit_depth=1, colour=0) + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
    real += _chunk(b"IEND", b"")
    assert len(real) < 20_000

    def no_decoding(self: object) -> None:
        raise AssertionError("a bomb's pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for data in (header_only, real):
        for call in (imgio.probe, imgio.open_image):
            with pytest.raises(ImagingError, match="pixel limit"):
                call(data, what="the mask")


def test_exif_orientation_not_applied(photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    img = imgio.open_image(_save(photo, "JPEG", exif=exif))
    assert img.size == (96, 64)


def test_encode_formats_and_quality(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    rgba.paste((10, 20, 30, 0), (0, 0, 16, 16))
    png = imgio.encode(rgba, "png")
    assert Image.open(io.BytesIO(png)).tobytes() == rgba.tobytes()
    jpeg = imgio.encode(rgba, "jpg")
    back = Image.open(io.BytesIO(jpeg))
    assert back.format == "JPEG" and back.mode == "RGB"
    assert back.getpixel((4, 4)) == (255, 255, 255)  # transparent -> white
    small, big = imgio.encode(photo, "jpeg", compression=90), imgio.encode(photo, "jpeg", compression=5)
    assert len(small) < len(big)
    lossless = imgio.encode(rgba, "webp", compression=0)
    assert Image.open(io.BytesIO(lossless)).convert("RGBA").tobytes() == rgba.tobytes()
    assert Image.open(io.BytesIO(imgio.encode(rgba, "webp", compression=50))).mode == "RGBA"
    assert imgio.quality_for(None) == 90 and imgio.quality_for(100) == 1 and imgio.quality_for(0) == 100
    assert imgio.mime_of("jpg") == "image/jpeg" and imgio.mime_of("webp") == "image/webp"
    with pytest.raises(ImagingError, match="gif"):
        imgio.encode(photo, "gif")
    with pytest.raises(ImagingError, match="between 0 and 100"):
        imgio.encode(photo, "jpeg", compression=101)
