"""Outpaint/inpaint geometry: a golden table over both GPT size rules, and the refusals."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from typing import Any

import pytest
from PIL import Image

from easel_mcp.catalog.models import GPT_FIXED, GPT_FLEXIBLE, SizeRule
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.imaging.geometry import (
    OutpaintPlan,
    parse_aspect,
    plan_inpaint,
    plan_outpaint,
    request_canvas_box,
)
from easel_mcp.imaging.outpaint import build_outpaint_request

SOURCES = [(1024, 1024), (1536, 1024), (1024, 1536), (800, 600), (1920, 1080), (3840, 2160)]
GROWTHS: list[dict[str, Any]] = [
    {"aspect_ratio": "16:9"},
    {"aspect_ratio": "9:16"},
    {"aspect_ratio": "1:1"},
    {"aspect_ratio": "4:3"},
    {"aspect_ratio": "3:1"},
    {"left": 256},
    {"right": 100, "bottom": 50},
]
RULES = {"fixed": GPT_FIXED, "flexible": GPT_FLEXIBLE}


def _expected_canvas(src: tuple[int, int], growth: dict[str, Any]) -> tuple[int, int]:
    w, h = src
    if "aspect_ratio" not in growth:
        return w + growth.get("left", 0) + growth.get("right", 0), h + growth.get("top", 0) + growth.get("bottom", 0)
    a, b = (int(v) for v in growth["aspect_ratio"].split(":"))
    r = Fraction(a, b)
    if r > Fraction(w, h):
        return math.floor(h * r + Fraction(1, 2)), h
    return w, math.floor(w / r + Fraction(1, 2))


def _allowed(rule: SizeRule, canvas: tuple[int, int]) -> bool:
    a = canvas[0] / canvas[1]
    if rule.flexible:
        return max(a, 1 / a) <= rule.max_aspect
    return any(max(a / (w / h), (w / h) / a) <= 1.25 for w, h in rule.fixed)


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _check_mask(plan: OutpaintPlan) -> None:
    source = Image.new("RGB", plan.source_size, (120, 130, 140))
    request, mask_png = build_outpaint_request(source, plan)
    alpha = Image.open(io.BytesIO(mask_png)).getchannel("A")
    assert request.size == alpha.size == plan.request_size
    box = plan.request_source_box.box
    assert alpha.crop(box).getextrema() == (255, 255)  # keep exactly the scaled source
    outside = alpha.copy()
    outside.paste(0, box)
    assert outside.getextrema() == (0, 0)  # transparent everywhere else
    assert request.getchannel("A").getbbox() == box


@pytest.mark.parametrize("rule_name", list(RULES))
@pytest.mark.parametrize("src", SOURCES)
@pytest.mark.parametrize("growth", GROWTHS, ids=lambda g: ",".join(f"{k}={v}" for k, v in g.items()))
def test_golden_table(rule_name: str, src: tuple[int, int], growth: dict[str, Any]) -> None:
    rule = RULES[rule_name]
    canvas = _expected_canvas(src, growth)
    if canvas == src:
        with pytest.raises(ImagingError, match="nothing to grow"):
            plan_outpaint(src, rule, **growth)
        return
    if not _allowed(rule, canvas):
        with pytest.raises(ImagingError, match=r"widest|tallest"):
            plan_outpaint(src, rule, **growth)
        return
    plan = plan_outpaint(src, rule, **growth)
    assert plan.canvas_size == canvas and plan.source_size == src
    assert rule.problem(plan.request_size) is None
    sb = plan.source_box
    assert (sb.width, sb.height) == src and _inside(sb.box, (0, 0, *canvas))
    assert plan.grow == (sb.x, sb.y, canvas[0] - sb.x - src[0], canvas[1] - sb.y - src[1])
    cbox = request_canvas_box(plan)
    assert _inside(cbox.box, (0, 0, *plan.request_size)) and _inside(plan.request_source_box.box, cbox.box)
    assert cbox.width == plan.request_size[0] or cbox.height == plan.request_size[1]  # fills one axis
    assert abs(plan.request_source_box.width - src[0] * plan.scale) <= 1
    assert abs(plan.request_source_box.height - src[1] * plan.scale) <= 1
    if "aspect_ratio" in growth:  # centred on the grown axis
        assert abs(plan.grow[0] - plan.grow[2]) <= 1 and abs(plan.grow[1] - plan.grow[3]) <= 1
    if src[0] * src[1] <= 1_600_000 and plan.request_size[0] * plan.request_size[1] <= 2_100_000:
        _check_mask(plan)  # pixel check where it is cheap (the arithmetic above covers the rest)


GOLDEN = [  # (rule, source, growth, canvas, request, request_source_box)
    ("flexible", (1024, 1024), {"aspect_ratio": "16:9"}, (1820, 1024), (1792, 1008), (392, 0, 1008, 1008)),
    ("flexible", (1024, 1024), {"aspect_ratio": "3:1"}, (3072, 1024), (3072, 1024), (1024, 0, 1024, 1024)),
    ("flexible", (1536, 1024), {"left": 256}, (1792, 1024), (1792, 1024), (256, 0, 1536, 1024)),
    ("flexible", (3840, 2160), {"aspect_ratio": "3:1"}, (6480, 2160), (3840, 1280), (782, 0, 2276, 1280)),
    ("fixed", (1024, 1024), {"aspect_ratio": "16:9"}, (1820, 1024), (1536, 1024), (336, 80, 864, 864)),
    ("fixed", (1536, 1024), {"left": 256}, (1792, 1024), (1536, 1024), (219, 73, 1317, 878)),
]


@pytest.mark.parametrize(("rule_name", "src", "growth", "canvas", "req", "box"), GOLDEN)
def test_golden_values(
    rule_name: str,
    src: tuple[int, int],
    growth: dict[str, Any],
    canvas: tuple[int, int],
    req: tuple[int, int],
    box: tuple[int, int, int, int],
) -> None:
    plan = plan_outpaint(src, RULES[rule_name], **growth)
    rb = plan.request_source_box
    assert (plan.canvas_size, plan.request_size, (rb.x, rb.y, rb.width, rb.height)) == (canvas, req, box)
    assert plan == plan_outpaint(src, RULES[rule_name], **growth)  # deterministic


def test_anchors() -> None:
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="2:1", anchor="left").grow == (0, 0, 1000, 0)
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="2:1", anchor="right").grow == (1000, 0, 0, 0)
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="2:1", anchor="top").grow == (500, 0, 500, 0)
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="1:2", anchor="top").grow == (0, 0, 0, 1000)
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="1:2", anchor="bottom").grow == (0, 1000, 0, 0)
    assert plan_outpaint((1000, 1000), GPT_FLEXIBLE, aspect_ratio="1.5").canvas_size == (1500, 1000)
    assert plan_outpaint((1001, 1000), GPT_FLEXIBLE, aspect_ratio="2:1").grow == (499, 0, 500, 0)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (GPT_FLEXIBLE, r"widest request this model accepts is 3:1.*try aspect_ratio 3:1"),
        (GPT_FIXED, r"1536x1024 \(3:2, fixed sizes\).*try aspect_ratio 16:9"),
    ],
)
def test_too_wide_refused(rule: SizeRule, words: str) -> None:
    with pytest.raises(ImagingError, match=words):
        plan_outpaint((1536, 1024), rule, aspect_ratio="4:1")
    with pytest.raises(ImagingError, match="tallest"):
        plan_outpaint((1024, 1536), rule, aspect_ratio="1:4")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "nothing to grow"),
        ({"left": -5}, r"negative \(left=-5\)"),
        ({"aspect_ratio": "16:9", "left": 10}, "not both"),
        ({"aspect_ratio": "wide"}, "not understood"),
        ({"aspect_ratio": "0:1"}, "not understood"),
        ({"aspect_ratio": "3:2"}, "nothing to grow"),
        ({"left": 20000, "right": 20000, "top": 20000}, "pixel limit"),
        ({"left": 10, "anchor": "middle"}, "anchor"),
    ],
)
def test_outpaint_refusals(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ImagingError, match=words):
        plan_outpaint((1536, 1024), GPT_FLEXIBLE, **kwargs)


def test_parse_aspect() -> None:
    assert parse_aspect("16:9") == Fraction(16, 9) and parse_aspect(" 1.5 ") == Fraction(3, 2)
    assert parse_aspect("2.39:1") == Fraction(239, 100) and parse_aspect("9/16") == Fraction(9, 16)


def test_plan_inpaint() -> None:
    same = plan_inpaint((1536, 1024), GPT_FIXED)
    assert same.request_size == (1536, 1024) and not same.resized and same.scale_x == 1.0
    fixed = plan_inpaint((800, 600), GPT_FIXED)
    assert fixed.request_size == (1536, 1024) and fixed.resized and fixed.scale_x == 1536 / 800
    flex = plan_inpaint((1000, 700), GPT_FLEXIBLE)
    assert GPT_FLEXIBLE.problem(flex.request_size) is None and flex.resized
    assert plan_inpaint((1000, 700), GPT_FLEXIBLE, (1024, 1024)).request_size == (1024, 1024)
    assert plan_inpaint((1024, 768), GPT_FLEXIBLE).request_size == (1024, 768)
    with pytest.raises(ImagingError):
        plan_inpaint((0, 10), GPT_FLEXIBLE)


def test_best_fit_wide_large_canvas() -> None:
    """The longest-edge limit caps the area at extreme aspects (used to raise ValueError)."""
    assert GPT_FLEXIBLE.best_fit(6480, 2160) == (3840, 1280)
    assert GPT_FLEXIBLE.best_fit(2160, 6480) == (1280, 3840)
