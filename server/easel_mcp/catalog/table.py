"""The model table: every fact about a model is a row here, with its source and date.

Sources (see docs/reference/image-apis.md): P = vendor SDK source or API spec,
S = consistent third-party copies of vendor pages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from easel_mcp.catalog.aspect import GEMINI_3_PRO_SIZES, GEMINI_25_SIZES, GEMINI_31_FLASH_SIZES
from easel_mcp.catalog.models import DALLE2, DALLE3, GPT_FIXED, GPT_FLEXIBLE, ModelSpec

_AS_OF = date(2026, 11, 25)
_SDK = "P: openai-python 3.57 (image_model.py, image_generate_params.py)"
_SPEC = "P: openai-openapi images spec 2026-08-21"
_GPT_QUALITIES = ("low", "medium", "high", "auto")
_GPT25_QUALITIES = ("low", "medium", "high", "xhigh", "max", "auto")
_GEMINI = "S: image-apis.md §5 (Google's Gemini API pages via third-party copies)"
# Gemini: one image per call (Easel makes n calls), aspect-ratio sizes, no masks (inpainting is by
# instruction), PNG only, no transparency, no moderation setting, no input_fidelity, no streaming.
# With size auto the tier follows the quality (providers/gemini_sizes.py): high renders at 2K.
_GEMINI_COMMON: dict[str, Any] = {
    "family": "gemini",
    "qualities": ("low", "medium", "high", "auto"),
    "output_formats": ("png",),
    "masks": False,
    "mask_guidance": True,
    "transparent_background": "no",
    "moderation": False,
    "streaming": False,
    "max_n": 4,
    "source": _GEMINI,
    "as_of": _AS_OF,
}
_TIER_BY_QUALITY = (("low", (1024, 1024)), ("medium", (1024, 1024)), ("high", (2048, 2048)))

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="gpt-image-1",
        family="gpt-image-1",
        status="retired",
        status_date=date(2026, 10, 23),
        status_note="shut down by OpenAI on 2026-10-23; still selectable for gateways that serve it",
        sizes=GPT_FIXED,
        qualities=_GPT_QUALITIES,
        input_fidelity=("high", "low"),
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="gpt-image-1-mini",
        family="gpt-image-1",
        status="deprecated",
        status_note="deprecated by OpenAI, no shut-down date announced",
        sizes=GPT_FIXED,
        qualities=_GPT_QUALITIES,
        input_fidelity=(),
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="gpt-image-1.5",
        family="gpt-image-1",
        status="live",
        sizes=GPT_FIXED,
        qualities=_GPT_QUALITIES,
        input_fidelity=("high", "low"),
        source=_SPEC,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="gpt-image-2",
        family="gpt-image-2",
        status="live",
        sizes=GPT_FLEXIBLE,
        qualities=_GPT_QUALITIES,
        transparent_background="preview",
        source=_SDK,
        as_of=_AS_OF,
        aliases=("gpt-image-2-2026-04-21",),
    ),
    ModelSpec(
        name="gpt-image-2.5-sunburst",
        family="gpt-image-2.5",
        status="live",
        sizes=GPT_FLEXIBLE,
        qualities=_GPT25_QUALITIES,
        transparent_background="preview",
        extra_fields=("complexity",),
        source=_SDK,
        as_of=_AS_OF,
        aliases=("gpt-image-2.5-sunburst-2026-09-08",),
    ),
    ModelSpec(
        name="gpt-image-2.5-flare",
        family="gpt-image-2.5",
        status="live",
        sizes=GPT_FLEXIBLE,
        qualities=_GPT25_QUALITIES,
        transparent_background="preview",
        extra_fields=("complexity",),
        source=_SDK,
        as_of=_AS_OF,
        aliases=("gpt-image-2.5-flare-2026-09-08",),
    ),
    ModelSpec(
        name="gpt-image-2.6-sunburst",
        family="gpt-image-2.5",
        status="listed",
        status_note="listed in the SDK; no snapshot date or published prices",
        sizes=GPT_FLEXIBLE,
        qualities=_GPT25_QUALITIES,
        transparent_background="preview",
        extra_fields=("complexity",),
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="gpt-image-2.6-flare",
        family="gpt-image-2.5",
        status="listed",
        status_note="listed in the SDK; no snapshot date or published prices",
        sizes=GPT_FLEXIBLE,
        qualities=_GPT25_QUALITIES,
        transparent_background="preview",
        extra_fields=("complexity",),
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="chatgpt-image-latest",
        family="gpt-image-1",
        status="live",
        status_note="alias that follows the newest ChatGPT image model",
        sizes=GPT_FIXED,
        qualities=_GPT_QUALITIES,
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="dall-e-3",
        family="dall-e",
        status="retired",
        status_date=date(2026, 5, 12),
        status_note="retired by OpenAI on 2026-05-12",
        sizes=DALLE3,
        qualities=("standard", "hd"),
        edits=False,
        masks=False,
        moderation=False,
        streaming=False,
        max_n=1,
        max_prompt_chars=4000,
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="dall-e-2",
        family="dall-e",
        status="retired",
        status_date=date(2026, 5, 12),
        status_note="retired by OpenAI on 2026-05-12",
        sizes=DALLE2,
        qualities=("standard",),
        moderation=False,
        streaming=False,
        max_input_images=1,
        max_prompt_chars=1000,
        source=_SDK,
        as_of=_AS_OF,
    ),
    ModelSpec(
        name="gemini-3.1-flash-image",
        aliases=("gemini-3.1-flash-image-preview",),
        status="live",
        status_note='"Nano Banana 2"',
        sizes=GEMINI_31_FLASH_SIZES.size_rule(),
        max_input_images=14,
        auto_size=_TIER_BY_QUALITY,
        **_GEMINI_COMMON,
    ),
    ModelSpec(
        name="gemini-3-pro-image",
        aliases=("gemini-3-pro-image-preview",),
        status="live",
        status_note='"Nano Banana Pro"',
        sizes=GEMINI_3_PRO_SIZES.size_rule(),
        max_input_images=14,
        auto_size=_TIER_BY_QUALITY,
        **_GEMINI_COMMON,
    ),
    ModelSpec(
        name="gemini-2.5-flash-image",
        aliases=("gemini-2.5-flash-image-preview",),
        status="deprecated",
        status_note='"Nano Banana": Google has scheduled its shut-down; prefer gemini-3.1-flash-image',
        sizes=GEMINI_25_SIZES.size_rule(),
        max_input_images=3,
        **_GEMINI_COMMON,
    ),
)

DEFAULT_MODEL = "gpt-image-1.5"
