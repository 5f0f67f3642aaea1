"""Gemini's generateContent wire format for images: the request body, the answer, and its errors.

Pure functions (no HTTP here): `gemini.py` sends and receives, this module shapes and reads.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from easel_mcp.errors import (
    AuthenticationFailed,
    ModelNotFound,
    ModerationBlocked,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from easel_mcp.providers.base import InputImage
from easel_mcp.providers.common import redact

PROVIDER = "gemini"
SAFETY_FINISH = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII"}
)
MASK_INSTRUCTION = "Only change the area described{where}; keep everything else identical."


@dataclass(slots=True)
class Answer:
    """One generateContent answer: its images (final ones, not the model's 'thought' drafts)."""

    images: list[tuple[bytes, str]]  # (data, mime type)
    usage: dict[str, Any] | None
    response_id: str | None
    text: list[str] = field(default_factory=list)


def build_body(
    prompt: str, images: tuple[InputImage, ...], aspect_ratio: str | None, image_size: str | None
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": prompt}]
    parts += [
        {"inlineData": {"mimeType": img.mime_type, "data": base64.b64encode(img.read()).decode()}} for img in images
    ]
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    image_config = {k: v for k, v in (("aspectRatio", aspect_ratio), ("imageSize", image_size)) if v}
    if image_config:
        config["imageConfig"] = image_config
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def mask_instruction(mask_png: bytes) -> str:
    """Words for the region a mask marks (alpha 0 = edit here), as Gemini takes no mask."""
    from easel_mcp.imaging.io import open_image

    with open_image(mask_png, what="mask") as img:
        alpha = img.convert("RGBA").getchannel("A")
        box = alpha.point(lambda a: 255 if a == 0 else 0).getbbox()
        w, h = img.size
    if box is None:
        return MASK_INSTRUCTION.format(where="")
    x0, y0, x1, y1 = (round(100 * v / d) for v, d in zip(box, (w, h, w, h), strict=True))
    where = f" (the region from {x0}% to {x1}% of the width and {y0}% to {y1}% of the height of the first image)"
    return MASK_INSTRUCTION.format(where=where)


def parse_answer(payload: Any) -> Answer:
    """The images of an answer, or the error that explains why there are none."""
    if not isinstance(payload, dict):
        raise UpstreamUnavailable("Gemini's answer could not be read (not a JSON object)", provider=PROVIDER)
    response_id = payload.get("responseId") if isinstance(payload.get("responseId"), str) else None
    usage = payload.get("usageMetadata") if isinstance(payload.get("usageMetadata"), dict) else None
    fields: dict[str, Any] = {"provider": PROVIDER, "request_id": response_id}
    feedback = payload.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if reason:
        raise ModerationBlocked(f"Gemini blocked the prompt ({reason}); reword it", code=str(reason), **fields)
    candidates: list[Any] = payload["candidates"] if isinstance(payload.get("candidates"), list) else []
    images: list[tuple[bytes, str]] = []
    text: list[str] = []
    finish: str | None = None
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        finish = candidate.get("finishReason") or finish
        content = candidate.get("content")
        for part in (content.get("parts") if isinstance(content, dict) else None) or []:
            if not isinstance(part, dict) or part.get("thought"):
                continue
            if isinstance(part.get("text"), str):
                text.append(part["text"])
            inline = part.get("inlineData")
            if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                images.append((_b64(inline["data"], response_id), str(inline.get("mimeType") or "image/png")))
    if images:
        return Answer(images, usage, response_id, text)
    fields["usage"] = usage  # answered and billed: the ledger keeps what it cost
    said = f' Gemini said: "{redact(" ".join(text), limit=300)}"' if text else ""
    if finish in SAFETY_FINISH:
        raise ModerationBlocked(
            f"Gemini's safety filter withheld the image (finishReason {finish}); reword the prompt or use other "
            f"input images.{said}",
            code=finish,
            billed=True,
            **fields,
        )
    raise UpstreamRejected(
        f"Gemini answered without an image (finishReason {finish or 'none'}): rephrase the prompt to ask for an "
        f"image explicitly.{said}",
        code=finish,
        billed=True,
        **fields,
    )


def _b64(data: str, response_id: str | None) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise UpstreamUnavailable(
            "Gemini sent image data that is not valid base64", provider=PROVIDER, request_id=response_id, billed=True
        ) from e


def sum_usage(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """usageMetadata of several calls added up: counts summed, per-modality lists merged by modality."""
    if not blocks:
        return None
    total: dict[str, Any] = {}
    for block in blocks:
        for key, value in block.items():
            if isinstance(value, int) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
            elif isinstance(value, list):
                merged: dict[str, int] = {d["modality"]: d.get("tokenCount", 0) for d in total.get(key, [])}
                for item in value:
                    if isinstance(item, dict) and isinstance(item.get("modality"), str):
                        merged[item["modality"]] = merged.get(item["modality"], 0) + int(item.get("tokenCount", 0))
                total[key] = [{"modality": m, "tokenCount": c} for m, c in merged.items()]
            else:
                total.setdefault(key, value)
    return total


def translate_status(status: int, body: Any, retry_after_header: str | None, secrets: tuple[str, ...]) -> ProviderError:
    """An HTTP error answer of the Gemini API as Easel's error."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    state = str(error.get("status") or "")
    message = redact(str(error.get("message") or f"HTTP {status}"), secrets)
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {str(d.get("reason")) for d in details if d.get("reason")}
    fields: dict[str, Any] = {"provider": PROVIDER, "status": status, "code": state or None}
    said = f"Gemini said ({state or status}): {message}"
    if status in (401, 403) or "API_KEY_INVALID" in reasons or state in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthenticationFailed(
            f"the Gemini API key was refused or lacks access; check GEMINI_API_KEY (or GOOGLE_API_KEY). {said}",
            **fields,
        )
    if status == 404 or state == "NOT_FOUND":
        return ModelNotFound(
            f"Gemini does not serve this model; choose another (list_models shows the catalog). {said}", **fields
        )
    if status == 429 or state == "RESOURCE_EXHAUSTED":
        retry = _retry_delay(details, retry_after_header)
        quota_ids = " ".join(
            str(v.get("quotaId", "")) for d in details for v in d.get("violations") or [] if isinstance(v, dict)
        )
        if "PerDay" in quota_ids or ("quota" in message.lower() and retry is None):
            return QuotaExceeded(
                f"the Gemini quota is used up; check the plan and billing of the key's project "
                f"(retrying now will not help). {said}",
                **fields,
            )
        wait = f" in {retry:g} s" if retry is not None else " shortly"
        return RateLimited(f"rate limited by Gemini; try again{wait}. {said}", retry_after_s=retry, **fields)
    if 400 <= status < 500:
        return UpstreamRejected(f"Gemini refused the request. {said}", **fields)
    return UpstreamUnavailable(f"Gemini failed with HTTP {status}; try again. {said}", **fields)


def _retry_delay(details: list[dict[str, Any]], header: str | None) -> float | None:
    for d in details:
        delay = d.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                pass
    try:
        return float(header) if header else None
    except ValueError:
        return None


def convert(data: bytes, mime: str, fmt: str, compression: int | None = None) -> bytes:
    """An answer image in the format asked for (Gemini takes no format): re-encoded by Easel's one
    codec (`imaging.io`) when Gemini's is another, as every image Easel writes; ImagingError if unreadable."""
    from easel_mcp.imaging.io import encode, mime_of, open_image

    if mime == mime_of(fmt):
        return data
    with open_image(data, what="Gemini's answer image") as img:
        return encode(img, fmt, compression=compression)
