"""OpenAI's error answers (and Azure's, and gateways') as Easel's errors: the provider's one boundary.

`translate_error` is called from `OpenAIProvider._translate` only; subclasses pass their own
`ErrorHints` so that messages name the settings the user can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from easel_mcp.errors import (
    AuthenticationFailed,
    ModelNotFound,
    ModerationBlocked,
    OrganizationNotVerified,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from easel_mcp.providers.common import redact

VERIFY_URL = "https://platform.openai.com/settings/organization/general"
# Codes of a safety refusal: OpenAI's, and Azure's content filter (code or innererror.code).
MODERATION_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy_violation",
        "content_filter",
        "contentFilter",
        "ResponsibleAIPolicyViolation",
    }
)


@dataclass(frozen=True, slots=True)
class ErrorHints:
    """The settings an error message points at (subclasses that speak the same wire name theirs)."""

    key: str = "OPENAI_API_KEY"
    base_url: str = "OPENAI_BASE_URL"
    not_found: str = "choose another model (list_models shows the catalog)"


def translate_error(exc: Exception, provider: str, hints: ErrorHints | None = None) -> ProviderError:
    """The one place where the SDK's exceptions become Easel's."""
    import openai

    hints = hints or ErrorHints()

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        fields: dict[str, Any] = {
            "provider": provider,
            "status": status,
            "code": exc.code,
            "request_id": exc.request_id,
            "param": exc.param,
        }
        detail = redact(_error_message(exc))
        if (
            exc.code in MODERATION_CODES
            or _inner_code(exc) in MODERATION_CODES
            or exc.type == "image_generation_user_error"
        ):
            return ModerationBlocked(
                "the image service's safety system refused this request; reword the prompt (or use other input "
                f"images) and try again. Upstream said: {detail}",
                **fields,
            )
        if status == 401:
            return AuthenticationFailed(
                f"the API key was refused ({detail}); check {hints.key} in the server's configuration",
                **fields,
            )
        if status == 403 and "verif" in detail.lower():
            return OrganizationNotVerified(
                f"this model needs a verified OpenAI organisation; verify it at {VERIFY_URL} (it can take 15 "
                f"minutes to apply) or choose another model. Upstream said: {detail}",
                **fields,
            )
        if status == 404 or exc.code == "model_not_found":
            return ModelNotFound(
                f"the upstream does not serve this model ({detail}); {hints.not_found}",
                **fields,
            )
        if status == 429 and exc.code == "insufficient_quota":
            return QuotaExceeded(
                f"the account has no quota left ({detail}); add credit or raise the limit in the billing "
                "settings. Retrying will not help.",
                **fields,
            )
        if status == 429:
            retry_after = _retry_after(exc)
            wait = f" in {retry_after:g} s" if retry_after is not None else " shortly"
            return RateLimited(
                f"rate limited by the upstream; try again{wait}. ({detail})", retry_after_s=retry_after, **fields
            )
        if 400 <= status < 500:
            field = f" (field '{exc.param}')" if exc.param else ""
            return UpstreamRejected(f"the upstream refused the request{field}: {detail}", **fields)
        return UpstreamUnavailable(f"the upstream failed with HTTP {status}: {detail}; try again", **fields)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamUnavailable("the upstream did not answer in time; try again", provider=provider, sent=True)
    if isinstance(exc, openai.APIConnectionError):
        import httpx2

        cause = exc.__cause__
        sent = not isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout)
        return UpstreamUnavailable(
            f"could not reach the image service ({type(cause).__name__ if cause else 'connection error'}); "
            f"check {hints.base_url} and the network, then try again",
            provider=provider,
            sent=sent,
        )
    if isinstance(exc, openai.OpenAIError | ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return UpstreamUnavailable(
            f"the upstream's answer could not be read ({type(exc).__name__}); try again", provider=provider
        )
    return UpstreamUnavailable(
        f"unexpected failure talking to the upstream ({type(exc).__name__}); try again", provider=provider
    )


def _error_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return str(exc.message)


def _inner_code(exc: Any) -> str | None:
    """Azure nests a second code: `innererror` (chat-style) or `inner_error` (images)."""
    body = exc.body
    for key in ("innererror", "inner_error"):
        inner = body.get(key) if isinstance(body, dict) else None
        code = inner.get("code") if isinstance(inner, dict) else None
        if isinstance(code, str):
            return code
    return None


def _retry_after(exc: Any) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
