"""An OpenAI-compatible gateway: OpenAI's wire mapping (reused from `openai.py`) at EASEL_BASE_URL.

Differences from the openai provider: the key (EASEL_API_KEY, sent as Bearer) is optional and
never taken from OPENAI_API_KEY; EASEL_EXTRA_HEADERS go with every request (a JSON object or
'Name=value,Name2=value2'); model names outside the catalog pass (validation warns); an answer
with `url` instead of `b64_json` is downloaded under the rules of `download.py`; an answer
without `usage` gives `usage=None` (the cost is then the estimate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from easel_mcp.errors import ConfigurationError
from easel_mcp.providers.common import parse_header_list
from easel_mcp.providers.download import MAX_BYTES, TIMEOUT_S, ImageDownloader
from easel_mcp.providers.openai import OpenAIProvider
from easel_mcp.providers.openai_errors import ErrorHints
from easel_mcp.providers.profile import ProviderProfile

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from easel_mcp.settings import Settings

MISSING = (
    "the compatible provider needs the gateway's URL: set EASEL_BASE_URL (e.g. https://gateway.example/v1), "
    "and EASEL_API_KEY if the gateway wants a key"
)
_NO_KEY = "no-key"  # the SDK insists on a key; the Authorization header is then omitted per request
PROFILE = ProviderProfile(
    "compatible",
    "gateways serve what they serve",
    configured=lambda s: bool(s.base_url),
    note="a gateway may serve other models too: any model name is passed through",
)


class CompatibleProvider(OpenAIProvider):
    """A server that speaks OpenAI's Images API (LiteLLM, OpenRouter-style gateways, local servers)."""

    name = "compatible"
    profile: ClassVar[ProviderProfile] = PROFILE
    hints: ClassVar[ErrorHints] = ErrorHints(
        key="EASEL_API_KEY",
        base_url="EASEL_BASE_URL",
        not_found="check the model name the gateway expects (models outside Easel's catalog are sent as named)",
    )

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        extra_headers: dict[str, str] | None = None,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        max_download_bytes: int = MAX_BYTES,
        download_timeout_s: float = TIMEOUT_S,
    ) -> None:
        super().__init__(
            api_key=api_key or "", base_url=base_url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s
        )
        self.extra_headers = dict(extra_headers or {})
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.downloader = ImageDownloader(
            gateway_url=base_url,
            gateway_headers={**auth, **self.extra_headers},
            provider=self.name,
            max_bytes=max_download_bytes,
            timeout_s=download_timeout_s,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CompatibleProvider:
        base_url = (settings.base_url or "").strip().rstrip("/")
        if not base_url:
            raise ConfigurationError(MISSING)
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigurationError(
                f"EASEL_BASE_URL must be an http(s) URL such as https://gateway.example/v1 (got {base_url[:80]!r})"
            )
        try:
            headers = parse_header_list(settings.extra_headers, setting="EASEL_EXTRA_HEADERS")
        except ValueError as e:
            raise ConfigurationError(str(e)) from None
        key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
        return cls(
            base_url=base_url,
            api_key=key or None,
            extra_headers=headers,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )

    def _build_client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self._base_url,
            api_key=self._api_key or _NO_KEY,
            default_headers=self.extra_headers or None,
            max_retries=0,
            timeout=self._timeout(),
        )

    def _call_options(self) -> dict[str, Any]:
        if self._api_key or any(k.lower() == "authorization" for k in self.extra_headers):
            return {}
        from openai import omit

        return {"extra_headers": {"Authorization": omit}}

    def _secrets(self) -> tuple[str | None, ...]:
        secret_like = ("auth", "key", "token", "secret", "cookie", "signature")
        return (self._api_key, *(v for k, v in self.extra_headers.items() if any(s in k.lower() for s in secret_like)))

    async def _image_from_url(self, url: str, request_id: str | None) -> bytes:
        return await self.downloader.fetch(url, request_id)

    async def aclose(self) -> None:
        await super().aclose()
        await self.downloader.aclose()
