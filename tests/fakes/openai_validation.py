"""Validation, token and price rules of the fake OpenAI Images API.

Two sources of truth, both outside the project's own code on purpose:

* OpenAI's OpenAPI document (``tests/fixtures/openai-images.openapi.yaml``, vendored with its source):
  request bodies are checked against its schemas with ``jsonschema``.
* ``docs/reference/image-apis.md``: model rules (sizes, qualities, which fields which model takes),
  output-token tables and prices. They are kept here as data, one table each.
"""

from __future__ import annotations

import copy
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from PIL import Image

SPEC_FILENAME = "openai-images.openapi.yaml"

# --------------------------------------------------------------------------- models and prices


@dataclass(frozen=True)
class ModelInfo:
    """What the fake knows about one model family (image-apis.md sections 1, 3 and 7)."""

    family: str  # "gpt-image-1" (fixed sizes), "gpt-image-2" or "gpt-image-2.5" (free sizes)
    text_in_usd: float  # per 1M tokens
    image_in_usd: float
    image_out_usd: float
    qualities: frozenset[str]


_Q4 = frozenset({"low", "medium", "high", "auto"})
_Q6 = _Q4 | {"xhigh", "max"}

# Longest prefix wins. chatgpt-image-latest: priced as gpt-image-1.5 (no published figure);
# gpt-image-2.6-*: prices unknown (image-apis.md section 7), billed as the 2.5 family.
_MODEL_TABLE: dict[str, ModelInfo] = {
    "gpt-image-1-mini": ModelInfo("gpt-image-1", 2.00, 2.50, 8.00, _Q4),
    "gpt-image-1.5": ModelInfo("gpt-image-1", 5.00, 8.00, 32.00, _Q4),
    "gpt-image-1": ModelInfo("gpt-image-1", 5.00, 10.00, 40.00, _Q4),
    "chatgpt-image-latest": ModelInfo("gpt-image-1", 5.00, 8.00, 32.00, _Q4),
    "gpt-image-2.5": ModelInfo("gpt-image-2.5", 5.00, 8.00, 30.00, _Q6),
    "gpt-image-2.6": ModelInfo("gpt-image-2.5", 5.00, 8.00, 30.00, _Q6),
    "gpt-image-2": ModelInfo("gpt-image-2", 5.00, 8.00, 30.00, _Q4),
}

DEFAULT_MODELS: frozenset[str] = frozenset(
    {
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "chatgpt-image-latest",
        "gpt-image-2",
        "gpt-image-2-2026-04-21",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-sunburst-2026-09-08",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare-2026-09-08",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.6-flare",
    }
)

INPUT_FIDELITY_MODELS = frozenset({"gpt-image-1", "gpt-image-1.5"})
FIXED_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536"})
DEFAULT_EDIT_MODEL = "gpt-image-1.5"


def model_info(model: str) -> ModelInfo:
    for prefix in sorted(_MODEL_TABLE, key=len, reverse=True):
        if model.startswith(prefix):
            return _MODEL_TABLE[prefix]
    return _MODEL_TABLE["gpt-image-1.5"]


# --------------------------------------------------------------------------- tokens

_PRE2_OUTPUT: dict[str, dict[tuple[int, int], int]] = {
    "low": {(1024, 1024): 272, (1024, 1536): 408, (1536, 1024): 400},
    "medium": {(1024, 1024): 1056, (1024, 1536): 1584, (1536, 1024): 1568},
    "high": {(1024, 1024): 4160, (1024, 1536): 6240, (1536, 1024): 6208},
}
_BASES: dict[str, dict[str, int]] = {
    "gpt-image-2": {"low": 16, "medium": 48, "high": 96},
    "gpt-image-2.5": {"low": 16, "medium": 24, "high": 48, "xhigh": 64, "max": 96},
}
PARTIAL_IMAGE_TOKENS = 100


def output_tokens(model: str, width: int, height: int, quality: str | None) -> int:
    """Output tokens of ONE image (quality ``auto``/None counts as ``medium``)."""
    info = model_info(model)
    q = "medium" if quality in (None, "auto") else quality
    if info.family == "gpt-image-1":
        table = _PRE2_OUTPUT.get(q, _PRE2_OUTPUT["medium"])
        if (width, height) in table:
            return table[(width, height)]
        return round(table[(1024, 1024)] * width * height / (1024 * 1024))  # non-strict fallback
    bases = _BASES[info.family]
    b = bases.get(q, bases["medium"])
    long_side, short_side = max(width, height), min(width, height)
    u = (2 * b * short_side + long_side) // (2 * long_side)
    return -(-(b * u * (2_000_000 + width * height)) // 4_000_000)


def input_image_tokens(width: int, height: int) -> int:
    """65 + 129 per 512-px tile once the short side is scaled to 512."""
    long_side, short_side = max(width, height), min(width, height)
    scaled_long = (long_side * 512 + short_side // 2) // short_side
    return 65 + 129 * math.ceil(scaled_long / 512)


def fidelity_tokens(width: int, height: int) -> int:
    """Extra input tokens of input_fidelity=high (once per request, from the first image)."""
    return 4160 if width == height else 6240


def text_tokens(prompt: str) -> int:
    return len(prompt) // 4 + 1


def usage_block(text: int, image_in: int, output: int) -> dict[str, Any]:
    return {
        "input_tokens": text + image_in,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens": output,
        "total_tokens": text + image_in + output,
    }


def cost_usd(model: str, usage: Mapping[str, Any]) -> float:
    info = model_info(model)
    details = usage["input_tokens_details"]
    micro = (
        int(details["text_tokens"]) * info.text_in_usd
        + int(details["image_tokens"]) * info.image_in_usd
        + int(usage["output_tokens"]) * info.image_out_usd
    )
    return micro / 1_000_000


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class Violation:
    param: str | None
    message: str
    code: str = "invalid_value"

    def __str__(self) -> str:
        return f"{self.param or '-'}: {self.message}"


def reference_dir() -> Path:
    """The vendored copy in ``tests/fixtures`` (see its README), or ``$EASEL_REFERENCE_DIR`` to try another copy."""
    env = os.environ.get("EASEL_REFERENCE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "fixtures"


def default_spec_path() -> Path:
    return reference_dir() / SPEC_FILENAME


def _nullable_to_31(node: Any) -> None:
    """The file mixes OpenAPI 3.0 ``nullable: true`` into a 3.1 document: make it JSON Schema."""
    if isinstance(node, dict):
        if node.get("nullable") is True:
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
                if isinstance(node.get("enum"), list) and None not in node["enum"]:
                    node["enum"].append(None)
            elif isinstance(node.get("anyOf"), list):
                node["anyOf"].append({"type": "null"})
        for value in node.values():
            _nullable_to_31(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_to_31(value)


@lru_cache(maxsize=4)
def _load_components(path: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with Path(path).open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=loader)
    components: dict[str, Any] = copy.deepcopy(doc["components"])
    _nullable_to_31(components)
    return components


# Fields the installed SDK (openai 3.57) sends that the 2026-08-21 spec does not list yet.
SDK_EXTRA_FIELDS = frozenset({"safety_identifier", "complexity", "frame_count", "frame_duration_ms", "svg", "markup"})


class SpecValidator:
    """JSON-schema validation of request bodies against components of the OpenAPI file."""

    def __init__(self, spec_path: Path) -> None:
        if not spec_path.is_file():
            raise FileNotFoundError(
                f"OpenAI images spec not found at {spec_path}; "
                f"set EASEL_REFERENCE_DIR to the folder holding {SPEC_FILENAME}"
            )
        self.components = _load_components(str(spec_path))
        self._validators: dict[str, Draft202012Validator] = {}

    def properties(self, schema: str) -> frozenset[str]:
        return frozenset(self.components["schemas"][schema].get("properties", {}))

    def validate(self, schema: str, body: Any) -> list[Violation]:
        validator = self._validators.get(schema)
        if validator is None:
            root = {"$ref": f"#/components/schemas/{schema}", "components": self.components}
            validator = self._validators[schema] = Draft202012Validator(root)
        out: list[Violation] = []
        for err in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
            path = list(err.absolute_path)
            if err.validator == "required" and not path:
                missing = [k for k in err.validator_value if k not in (err.instance or {})]
                name = missing[0] if missing else None
                out.append(Violation(name, f"Missing required parameter: '{name}'.", "missing_required_parameter"))
                continue
            param = ".".join(map(str, path)) or None
            value = err.instance if not isinstance(err.instance, str) or len(err.instance) < 80 else "<long string>"
            out.append(Violation(param, f"Invalid value {value!r} for '{param}' ({schema}): {err.message[:200]}"))
        return out


# --------------------------------------------------------------------------- model rules

_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def parse_size(size: Any) -> tuple[int, int] | None:
    m = _SIZE_RE.match(size) if isinstance(size, str) else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def size_problem(model: str, size: Any) -> str | None:
    """Why ``size`` is not allowed for ``model`` (None when it is)."""
    if size is None or size == "auto":
        return None
    info = model_info(model)
    if info.family == "gpt-image-1":
        return None if size in FIXED_SIZES else f"size must be one of {sorted(FIXED_SIZES)} or auto for {model}"
    wh = parse_size(size)
    if wh is None:
        return f"size must be WIDTHxHEIGHT or auto, got {size!r}"
    w, h = wh
    if w % 16 or h % 16:
        return f"both sides of {size} must be multiples of 16"
    if max(w, h) > 3 * min(w, h):
        return f"aspect ratio of {size} must be between 1:3 and 3:1"
    if not 655_360 <= w * h <= 8_294_400:
        return f"{size} has {w * h} pixels, allowed 655360 to 8294400"
    if max(w, h) > 3840:
        return f"longest edge of {size} must be at most 3840"
    return None


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def open_image(data: bytes) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception:
        return None
    return img


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def check_model_rules(body: Mapping[str, Any], model: str, *, edit: bool) -> list[Violation]:
    """Rules of image-apis.md that the schema cannot express. ``None`` values count as omitted."""
    v: list[Violation] = []
    info = model_info(model)
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        if not prompt.strip():
            v.append(Violation("prompt", "prompt must not be empty"))
        elif len(prompt) > 32000:
            v.append(
                Violation("prompt", f"prompt has {len(prompt)} characters, at most 32000", "string_above_max_length")
            )
    problem = size_problem(model, body.get("size"))
    if problem:
        v.append(Violation("size", problem))
    quality = body.get("quality")
    if quality is not None and quality not in info.qualities:
        v.append(Violation("quality", f"quality {quality!r} not supported by {model}: {sorted(info.qualities)}"))
    fmt = body.get("output_format") or "png"
    if body.get("background") == "transparent" and fmt not in ("png", "webp"):
        v.append(Violation("background", f"background=transparent needs output_format png or webp, not {fmt}"))
    compression = body.get("output_compression")
    if compression is not None:
        if fmt not in ("jpeg", "webp"):
            v.append(Violation("output_compression", f"output_compression is only for jpeg or webp, not {fmt}"))
        if isinstance(compression, int) and not 0 <= compression <= 100:
            v.append(Violation("output_compression", "output_compression must be between 0 and 100"))
    for legacy in ("response_format", "style"):
        if body.get(legacy) is not None:
            v.append(Violation(legacy, f"{legacy} is not supported for GPT image models", "unknown_parameter"))
    if body.get("complexity") is not None and info.family != "gpt-image-2.5":
        v.append(Violation("complexity", f"complexity is not supported by {model}", "unsupported_parameter"))
    if edit and body.get("moderation") is not None:
        v.append(Violation("moderation", "moderation is not supported on /images/edits", "unknown_parameter"))
    if body.get("input_fidelity") is not None:
        if not edit:
            v.append(Violation("input_fidelity", "input_fidelity is only for /images/edits", "unknown_parameter"))
        elif model not in INPUT_FIDELITY_MODELS:
            v.append(
                Violation("input_fidelity", f"input_fidelity is not supported by {model}", "unsupported_parameter")
            )
    return v


def check_unknown_fields(keys: Iterable[str], allowed: frozenset[str]) -> list[Violation]:
    out = []
    for key in keys:
        if key in allowed or key in SDK_EXTRA_FIELDS or key.startswith("svg["):
            continue
        if key in ("moderation", "input_fidelity"):
            continue  # reported by check_model_rules with a precise message
        out.append(Violation(key, f"Unknown parameter: '{key}'.", "unknown_parameter"))
    return out


def check_input_images(images: list[bytes]) -> list[Violation]:
    v: list[Violation] = []
    if not images:
        v.append(Violation("image", "at least one image is required", "missing_required_parameter"))
    if len(images) > 16:
        v.append(Violation("image", f"{len(images)} images given, at most 16"))
    for i, data in enumerate(images):
        kind = sniff_image(data)
        if kind is None:
            v.append(Violation("image", f"image {i} is not a png, webp or jpeg file", "invalid_image_format"))
        elif open_image(data) is None:
            v.append(Violation("image", f"image {i} ({kind}) could not be decoded", "invalid_image"))
        if len(data) >= 50 * 1024 * 1024:
            v.append(Violation("image", f"image {i} is {len(data)} bytes, must be under 50 MB", "image_too_large"))
    return v


def check_mask(mask: bytes, first_image: bytes | None) -> list[Violation]:
    v: list[Violation] = []
    if sniff_image(mask) != "png":
        return [Violation("mask", "mask must be a PNG file", "invalid_image_format")]
    if len(mask) >= 4 * 1024 * 1024:
        v.append(Violation("mask", f"mask is {len(mask)} bytes, must be under 4 MB", "image_too_large"))
    img = open_image(mask)
    if img is None:
        return [*v, Violation("mask", "mask could not be decoded", "invalid_image")]
    if not has_alpha(img):
        v.append(Violation("mask", f"mask must have an alpha channel (mode {img.mode})", "invalid_image"))
    first = open_image(first_image) if first_image is not None else None
    if first is not None and first.size != img.size:
        v.append(
            Violation("mask", f"mask size {img.size} differs from the first image's {first.size}", "invalid_image")
        )
    return v


def drop_overlaps(schema: list[Violation], rules: list[Violation]) -> list[Violation]:
    """Schema violations first; a rule violation on a param the schema already flagged is dropped."""
    seen = {x.param for x in schema}
    out: list[Violation] = []
    for x in [*schema, *(r for r in rules if r.param not in seen)]:
        if x not in out:
            out.append(x)
    return out
