"""Rules and answers of the fake Gemini API: request validation, image sizes, usage, scripted errors.

Facts from image-apis.md §5 (kept here as the fake's own data, independent of Easel's catalog):
aspect ratios per model, imageSize 1K/2K/4K (not on gemini-2.5-flash-image), answers as
``candidates[].content.parts[].inlineData``, blocks as ``promptFeedback.blockReason`` or a
``finishReason``, usage in ``usageMetadata``.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import Any

from .openai_validation import open_image, sniff_image

TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME_RATIOS = ("1:4", "4:1", "1:8", "8:1")
TIERS = {"1K": 1, "2K": 2, "4K": 4}
MIME_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}
TOP_KEYS = frozenset({"contents", "generationConfig", "safetySettings", "systemInstruction"})
CONFIG_KEYS = frozenset(
    {"responseModalities", "imageConfig", "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "seed"}
)
MAX_INLINE = 20 * 1024 * 1024


@dataclass(frozen=True)
class ModelRules:
    ratios: tuple[str, ...]
    tiers: tuple[str, ...]  # () = imageSize is not accepted
    image_tokens: dict[str, int]  # tier -> output tokens of one image
    thoughts: bool = False  # answers start with a 'thought' draft (text and image), as Gemini 3 Pro does


MODELS: dict[str, ModelRules] = {
    "gemini-2.5-flash-image": ModelRules(TEN_RATIOS, (), {"1K": 1290}),
    "gemini-3-pro-image": ModelRules(TEN_RATIOS, tuple(TIERS), {"1K": 1120, "2K": 1120, "4K": 2000}, thoughts=True),
    "gemini-3.1-flash-image": ModelRules(
        TEN_RATIOS + EXTREME_RATIOS, tuple(TIERS), {"1K": 1120, "2K": 1680, "4K": 2520}
    ),
}


# Listed price of one output image by tier (image-apis.md §5); a tier missing here has no published price.
IMAGE_PRICES_USD: dict[str, dict[str, float]] = {
    "gemini-2.5-flash-image": {"1K": 0.039},
    "gemini-3-pro-image": {"1K": 0.134, "2K": 0.134, "4K": 0.24},
    "gemini-3.1-flash-image": {"1K": 0.067},
}


def status_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


@dataclass
class GeminiScripted:
    """One injected answer, consumed in FIFO order before normal handling."""

    status: int = 200
    json: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    @classmethod
    def prompt_blocked(cls, reason: str = "SAFETY") -> GeminiScripted:
        return cls(
            json={
                "promptFeedback": {"blockReason": reason},
                "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
                "responseId": "blocked-1",
            }
        )

    @classmethod
    def finish(cls, reason: str, text: str | None = None) -> GeminiScripted:
        candidate: dict[str, Any] = {"finishReason": reason, "index": 0}
        if text is not None:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        return cls(
            json={
                "candidates": [candidate],
                "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
                "responseId": f"finish-{reason}",
            }
        )

    @classmethod
    def rate_limited(cls, retry_s: int = 7) -> GeminiScripted:
        return cls(
            429,
            status_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                            }
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_s}s"},
                ],
            ),
        )

    @classmethod
    def quota_exhausted(cls) -> GeminiScripted:
        return cls(
            429,
            status_error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                    }
                ],
            ),
        )

    @classmethod
    def server_error(cls, status: int = 500) -> GeminiScripted:
        if status == 503:
            return cls(503, status_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."))
        return cls(status, status_error(status, "INTERNAL", "An internal error has occurred. Please retry."))

    @classmethod
    def permission_denied(cls) -> GeminiScripted:
        return cls(403, status_error(403, "PERMISSION_DENIED", "The caller does not have permission"))

    @classmethod
    def invalid_argument(cls, message: str = "Request contains an invalid argument.") -> GeminiScripted:
        return cls(400, status_error(400, "INVALID_ARGUMENT", message))

    @classmethod
    def garbage(cls) -> GeminiScripted:
        return cls(raw=b'{"candidates": [{"content": <html>502 Bad Gateway</html>')


def _err(problems: list[str], where: str, message: str) -> None:
    problems.append(f"{where}: {message}")


def validate_body(body: Any, model: str) -> tuple[list[str], list[bytes], str]:
    """(problems, decoded input images, prompt text) of a generateContent body."""
    problems: list[str] = []
    images: list[bytes] = []
    texts: list[str] = []
    if not isinstance(body, dict):
        return ["body: must be a JSON object"], images, ""
    for key in body.keys() - TOP_KEYS:
        _err(problems, key, f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        _err(problems, "contents", "must be a non-empty list")
        contents = []
    inline_total = 0
    for i, content in enumerate(contents):
        where = f"contents[{i}]"
        if not isinstance(content, dict) or not content.keys() <= {"role", "parts"}:
            _err(problems, where, "must be an object with role and parts")
            continue
        if content.get("role", "user") not in ("user", "model"):
            _err(problems, where, f"role {content.get('role')!r} must be user or model")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            _err(problems, where, "parts must be a non-empty list")
            continue
        for j, part in enumerate(parts):
            pw = f"{where}.parts[{j}]"
            kinds = [k for k in ("text", "inlineData", "fileData") if isinstance(part, dict) and k in part]
            if not isinstance(part, dict) or len(kinds) != 1 or not part.keys() <= {*kinds, "thought"}:
                _err(problems, pw, "must hold exactly one of text, inlineData, fileData")
                continue
            if "text" in part:
                if not isinstance(part["text"], str) or not part["text"].strip():
                    _err(problems, pw, "text must be a non-empty string")
                else:
                    texts.append(part["text"])
            elif "inlineData" in part:
                inline_total += _inline(part["inlineData"], pw, problems, images)
    if contents and isinstance(contents[-1], dict) and contents[-1].get("role", "user") != "user":
        _err(problems, "contents", "the last content must be the user's")
    if not texts:
        _err(problems, "contents", "no text part: image models need a prompt")
    if inline_total > MAX_INLINE:
        _err(problems, "contents", f"inline data is {inline_total} bytes, at most {MAX_INLINE}")
    _config(body.get("generationConfig"), model, problems)
    return problems, images, "\n".join(texts)


def _inline(inline: Any, where: str, problems: list[str], images: list[bytes]) -> int:
    if not isinstance(inline, dict) or inline.keys() != {"mimeType", "data"}:
        _err(problems, where, "inlineData needs exactly mimeType and data")
        return 0
    mime, data = inline["mimeType"], inline["data"]
    if mime not in MIME_TYPES:
        _err(problems, where, f"mimeType {mime!r} is not an accepted image type")
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else b""
    except (binascii.Error, ValueError):
        _err(problems, where, "data is not valid base64")
        return len(data) if isinstance(data, str) else 0
    if sniff_image(raw) != MIME_TYPES.get(mime) or open_image(raw) is None:
        _err(problems, where, f"data is not a decodable {mime} image")
    else:
        images.append(raw)
    return len(data)


def _config(config: Any, model: str, problems: list[str]) -> None:
    rules = MODELS.get(model)
    if not isinstance(config, dict):
        _err(problems, "generationConfig", "is required for image output (responseModalities)")
        return
    for key in config.keys() - CONFIG_KEYS:
        _err(problems, f"generationConfig.{key}", f'Unknown name "{key}": Cannot find field.')
    modalities = config.get("responseModalities")
    if not isinstance(modalities, list) or "IMAGE" not in modalities or not set(modalities) <= {"TEXT", "IMAGE"}:
        _err(problems, "generationConfig.responseModalities", f"must include IMAGE (got {modalities!r})")
    image_config = config.get("imageConfig")
    if image_config is None:
        return
    if not isinstance(image_config, dict) or not image_config.keys() <= {"aspectRatio", "imageSize"}:
        _err(problems, "generationConfig.imageConfig", "takes only aspectRatio and imageSize")
        return
    ratio, tier = image_config.get("aspectRatio"), image_config.get("imageSize")
    if ratio is not None and (rules is None or ratio not in rules.ratios):
        _err(problems, "imageConfig.aspectRatio", f"{ratio!r} is not supported by {model}")
    if tier is not None and (tier not in TIERS or rules is None or tier not in rules.tiers):
        _err(problems, "imageConfig.imageSize", f"{tier!r} is not supported by {model}")


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    target = width / height
    return min(ratios, key=lambda r: abs(math.log(int(r.split(":")[0]) / int(r.split(":")[1]) / target)))


def output_size(ratio: str, tier: str) -> tuple[int, int]:
    """About (1024 * tier scale)^2 pixels at `ratio`, sides multiples of 16."""
    a, b = (int(x) for x in ratio.split(":"))
    area = (1024 * TIERS[tier]) ** 2
    return round(math.sqrt(area * a / b) / 16) * 16, round(math.sqrt(area * b / a) / 16) * 16


def text_tokens(text: str) -> int:
    return len(text) // 4 + 1


def usage(prompt: str, n_inputs: int, image_tokens: int, text_out: int) -> dict[str, Any]:
    prompt_text = text_tokens(prompt)
    prompt_total = prompt_text + 258 * n_inputs
    details = [{"modality": "TEXT", "tokenCount": prompt_text}]
    if n_inputs:
        details.append({"modality": "IMAGE", "tokenCount": 258 * n_inputs})
    return {
        "promptTokenCount": prompt_total,
        "candidatesTokenCount": image_tokens + text_out,
        "totalTokenCount": prompt_total + image_tokens + text_out,
        "promptTokensDetails": details,
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": image_tokens},
            {"modality": "TEXT", "tokenCount": text_out},
        ],
    }
