"""Masks: conventions x modes, sizes, regions, feathering and compositing."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from easel_mcp.imaging import masks
from easel_mcp.imaging.composite import composite_over_source, paste_original
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.imaging.masks import MaskResult, Region, edit_area, feather_alpha, mask_from_regions, normalize_mask

SIZE = (64, 48)
EDIT_BOX = (16, 8, 40, 30)  # left, top, right, bottom


def _expected() -> Image.Image:
    e = Image.new("L", SIZE, 0)
    e.paste(255, EDIT_BOX)
    return e


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def _white_is_edit(mode: str) -> bytes:
    e = _expected()
    if mode == "I;16":
        return _png(e.convert("I").point(lambda v: v * 257).convert("I;16"))
    return _png(e.convert(mode))  # LA and RGBA: opaque alpha everywhere


def _black_is_edit(mode: str) -> bytes:
    inv = ImageChops.invert(_expected())
    if mode == "I;16":
        return _png(inv.convert("I").point(lambda v: v * 257).convert("I;16"))
    return _png(inv.convert(mode))


def _transparent_is_edit(mode: str) -> bytes:
    alpha = ImageChops.invert(_expected())
    if mode == "P":  # palette index 1 is transparent
        p = alpha.point(lambda v: 0 if v else 1).convert("P")
        p.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
        return _png(p, transparency=1)
    if mode == "L":  # grey with a tRNS key: 0 is transparent
        return _png(alpha.point(lambda v: 200 if v else 0), transparency=0)
    grey = Image.new("L", SIZE, 255)  # white RGB under the alpha: 'white' would read it as all-edit
    return _png(Image.merge(mode, (grey, alpha) if mode == "LA" else (grey, grey, grey, alpha)))


def _edit_of(result: MaskResult) -> Image.Image:
    img = Image.open(io.BytesIO(result.png))
    assert img.mode == "RGBA" and img.size == (result.width, result.height)
    r, g, b, a = img.split()
    assert r.getextrema() == g.getextrema() == b.getextrema() == (0, 0)
    assert {value for _, value in a.getcolors() or []} <= {0, 255}
    return edit_area(result)


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


OPAQUE_MODES = ["1", "L", "RGB", "P", "I;16", "LA", "RGBA"]
Maker = Callable[[str], bytes]


@pytest.mark.parametrize("mode", OPAQUE_MODES)
@pytest.mark.parametrize(
    ("convention", "maker"), [("white", _white_is_edit), ("black", _black_is_edit), ("auto", _white_is_edit)]
)
def test_opaque_conventions_every_mode(mode: str, convention: masks.Convention, maker: Maker) -> None:
    result = normalize_mask(maker(mode), SIZE, convention)
    assert _same(_edit_of(result), _expected())
    assert result.convention_used == ("white" if convention == "auto" else convention)
    assert result.edit_bbox == (16, 8, 24, 22) and result.resized_from is None
    assert result.edit_fraction == pytest.approx(24 * 22 / (64 * 48))


@pytest.mark.parametrize("mode", ["LA", "RGBA", "P", "L"])
@pytest.mark.parametrize("convention", ["alpha", "auto"])
def test_transparency_conventions(mode: str, convention: masks.Convention) -> None:
    result = normalize_mask(_transparent_is_edit(mode), SIZE, convention)
    assert result.convention_used == "alpha" and _same(_edit_of(result), _expected())


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "P", "I;16"])
def test_inverted_reading(mode: str) -> None:
    """A white-is-edit mask read as 'black' edits the complement."""
    result = normalize_mask(_white_is_edit(mode), SIZE, "black")
    assert _same(_edit_of(result), ImageChops.invert(_expected()))


def test_strokes_on_transparent_layer_read_as_white() -> None:
    layer = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), EDIT_BOX)
    assert _same(_edit_of(normalize_mask(_png(layer), SIZE, "white")), _expected())
    layer = Image.new("RGBA", SIZE, (255, 255, 255, 0))
    layer.paste((0, 0, 0, 255), EDIT_BOX)
    assert _same(_edit_of(normalize_mask(_png(layer), SIZE, "black")), _expected())


def test_threshold_is_128() -> None:
    grey = Image.new("L", SIZE, 127)
    grey.paste(128, EDIT_BOX)
    assert _same(_edit_of(normalize_mask(_png(grey), SIZE, "white")), _expected())


def test_resized_when_aspect_matches_else_refused() -> None:
    half = _expected().resize((32, 24), Image.Resampling.NEAREST)
    result = normalize_mask(_png(half), SIZE, "white")
    assert result.resized_from == (32, 24) and (result.width, result.height) == SIZE
    assert _same(_edit_of(result), _expected())
    with pytest.raises(ImagingError, match=r"the mask is 32x32 but the image is 64x48.*supply a mask of 64x48"):
        normalize_mask(_png(Image.new("L", (32, 32), 255).crop((0, 0, 32, 32))), SIZE, "white")


def test_empty_and_full_masks() -> None:
    black = _png(Image.new("L", SIZE, 0))
    with pytest.raises(ImagingError, match=r"nothing.*'white'"):
        normalize_mask(black, SIZE, "white")
    with pytest.raises(ImagingError, match="edit_image"):
        normalize_mask(black, SIZE, "black")
    with pytest.raises(ImagingError, match=r"no transparency.*Try convention 'white'"):
        normalize_mask(_white_is_edit("RGB"), SIZE, "alpha")
    with pytest.raises(ImagingError, match=r"nothing.*Try convention 'black'"):
        _raise_empty_with_hint()
    with pytest.raises(ImagingError, match="unknown mask convention"):
        normalize_mask(black, SIZE, "green")  # type: ignore[arg-type]


def _raise_empty_with_hint() -> None:
    strokes = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    strokes.paste((40, 40, 40, 255), EDIT_BOX)  # dark strokes on a transparent layer: nothing under 'white'
    normalize_mask(_png(strokes), SIZE, "white")


def test_regions_rect_and_ellipse() -> None:
    r = mask_from_regions(SIZE, [Region(16, 8, 24, 22)])
    assert r.convention_used == "regions" and _same(_edit_of(r), _expected()) and r.edit_bbox == (16, 8, 24, 22)
    e = mask_from_regions(SIZE, [Region(10, 10, 30, 20, "ellipse"), Region(0, 0, 1, 1, "ellipse")])
    area = _edit_of(e)
    assert area.getpixel((25, 20)) == 255 and area.getpixel((10, 10)) == 0 and area.getpixel((0, 0)) == 255
    assert e.edit_bbox == (0, 0, 40, 30) and 0 < e.edit_fraction < 30 * 20 / (64 * 48)


@pytest.mark.parametrize(
    ("region", "words"),
    [
        (Region(60, 0, 10, 10), "extends 6 px past the right edge.*width at most 4"),
        (Region(0, 40, 10, 10), "extends 2 px past the bottom edge.*height at most 8"),
        (Region(-3, 0, 10, 10), "starts 3 px left"),
        (Region(0, -1, 10, 10), "starts 1 px above"),
        (Region(100, 0, 10, 10), "entirely outside"),
        (Region(0, 0, 0, 10), "empty"),
        (Region(0, 0, 64, 48), "edit_image"),
    ],
)
def test_region_errors(region: Region, words: str) -> None:
    with pytest.raises(ImagingError, match=words):
        mask_from_regions(SIZE, [Region(1, 1, 2, 2), region])
    with pytest.raises(ImagingError, match="no regions"):
        mask_from_regions(SIZE, [])


rects = st.tuples(st.integers(0, 31), st.integers(0, 23), st.integers(1, 32), st.integers(1, 24))


@settings(max_examples=40, deadline=None)
@given(st.lists(rects, min_size=1, max_size=4))
def test_regions_union_property(boxes: list[tuple[int, int, int, int]]) -> None:
    size = (40, 30)
    regions = [Region(x, y, min(w, size[0] - x), min(h, size[1] - y)) for x, y, w, h in boxes]
    covered = {(px, py) for r in regions for px in range(r.x, r.x + r.width) for py in range(r.y, r.y + r.height)}
    if len(covered) == size[0] * size[1]:
        with pytest.raises(ImagingError):
            mask_from_regions(size, regions)
        return
    alpha = Image.open(io.BytesIO(mask_from_regions(size, regions).png)).getchannel("A")
    zero = {(px, py) for px in range(size[0]) for py in range(size[1]) if alpha.getpixel((px, py)) == 0}
    assert zero == covered


def test_scale_mask_is_conservative() -> None:
    r = mask_from_regions((100, 100), [Region(50, 50, 1, 1)])
    small = masks.scale_mask(r, (30, 20))
    assert (small.width, small.height) == (30, 20) and small.edit_fraction > 0 and small.resized_from == (100, 100)
    assert masks.scale_mask(r, (100, 100)) is r


def _within(edit: Image.Image, f: int) -> list[list[bool]]:
    """Per pixel: is there an edit pixel within Chebyshev distance f (2D prefix sums)."""
    w, h = edit.size
    px = edit.load()
    assert px is not None
    s = [[0] * (w + 1) for _ in range(h + 1)]
    for y in range(h):
        for x in range(w):
            s[y + 1][x + 1] = s[y][x + 1] + s[y + 1][x] - s[y][x] + (1 if px[x, y] else 0)

    def box(x0: int, y0: int, x1: int, y1: int) -> int:
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return s[y1][x1] - s[y0][x1] - s[y1][x0] + s[y0][x0]

    return [[box(x - f, y - f, x + f + 1, y + f + 1) > 0 for x in range(w)] for y in range(h)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(rects, st.booleans()), min_size=1, max_size=3), st.integers(0, 12))
def test_feather_band_is_exact(items: list[tuple[tuple[int, int, int, int], bool]], feather: int) -> None:
    size = (40, 30)
    regions = [
        Region(x, y, min(w, size[0] - x), min(h, size[1] - y), "ellipse" if ell else "rect")
        for (x, y, w, h), ell in items
    ]
    try:
        mask = mask_from_regions(size, regions)
    except ImagingError:
        return  # covers everything
    weight = feather_alpha(mask, feather)
    edit = edit_area(mask)
    near = _within(edit, feather)
    source = Image.effect_noise(size, 60).convert("RGB")
    model = Image.new("RGB", (80, 60), (250, 5, 120))  # other size: resized inside
    out = composite_over_source(source, model, weight)
    wpx, epx, opx, spx = weight.load(), edit.load(), out.load(), source.load()
    assert wpx is not None and epx is not None and opx is not None and spx is not None
    for y in range(size[1]):
        for x in range(size[0]):
            if epx[x, y]:
                assert wpx[x, y] == 255 and opx[x, y] == (250, 5, 120)
            elif not near[y][x]:
                assert wpx[x, y] == 0 and opx[x, y] == spx[x, y]


def test_feather_ramps_down() -> None:
    mask = mask_from_regions((60, 20), [Region(0, 0, 20, 20)])
    row = list(feather_alpha(mask, 8).crop((18, 10, 32, 11)).tobytes())
    assert row[:2] == [255, 255] and row[-3:] == [0, 0, 0]
    assert all(a >= b for a, b in itertools.pairwise(row)) and 0 < row[5] < 255
    with pytest.raises(ImagingError, match="feather"):
        feather_alpha(mask, -1)


@pytest.mark.parametrize(("mode", "out_mode"), [("RGB", "RGB"), ("RGBA", "RGBA"), ("L", "L"), ("P", "RGB")])
def test_composite_modes(mode: str, out_mode: str) -> None:
    source = Image.effect_noise((20, 10), 50).convert(mode)
    weight = Image.new("L", (20, 10), 0)
    weight.paste(255, (0, 0, 10, 10))
    out = composite_over_source(source, Image.new("RGBA", (20, 10), (1, 2, 3, 255)), weight)
    assert out.mode == out_mode
    expected = source.convert(out_mode).crop((10, 0, 20, 10)).tobytes()
    assert out.crop((10, 0, 20, 10)).tobytes() == expected
    with pytest.raises(ImagingError, match="weight"):
        composite_over_source(source, source, Image.new("L", (5, 5)))


def test_paste_original_exact() -> None:
    canvas = Image.new("RGB", (50, 40), (9, 9, 9))
    original = Image.effect_noise((20, 10), 50).convert("RGB")
    out = paste_original(canvas, original, (5, 6, 20, 10))
    assert out.crop((5, 6, 25, 16)).tobytes() == original.tobytes() and canvas.getpixel((5, 6)) == (9, 9, 9)
    with pytest.raises(ImagingError, match="does not match"):
        paste_original(canvas, original, (5, 6, 25, 16))
    with pytest.raises(ImagingError, match="outside"):
        paste_original(canvas, original, (40, 6, 20, 10))
