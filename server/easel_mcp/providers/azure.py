"""Azure OpenAI: the OpenAI Images wire format (reused from `openai.py`) on Azure's URLs and auth.

Two URL forms (image-apis.md §4):

* OPENAI_API_VERSION set: the dated form, `POST {endpoint}/openai/deployments/{deployment}/images/
  generations?api-version=V` (and `/images/edits`), through the SDK's `AsyncAzureOpenAI` (one client;
  the SDK puts the deployment sent as `model` into the path).
* unset: the v1 API, `{endpoint}/openai/v1/images/...`, with the deployment name as `model`.

Auth: `api-key: KEY`, or `Authorization: Bearer <Entra ID token>` (AZURE_OPENAI_AD_TOKEN, which wins
over a key as in the SDK; or, when neither is set and the optional `azure-identity` package is
installed, `DefaultAzureCredential`).
Models map to deployments with EASEL_AZURE_DEPLOYMENTS='gpt-image-1.5=my-deploy,...'; an unmapped
model is sent as its own deployment name.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from easel_mcp.errors import AuthenticationFailed, ConfigurationError, ProviderError
from easel_mcp.providers.common import redact
from easel_mcp.providers.openai import OPENAI_FAMILIES, OpenAIProvider
from easel_mcp.providers.openai_errors import ErrorHints
from easel_mcp.providers.profile import ProviderProfile, secret_set

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from easel_mcp.settings import Settings

TokenProvider = Callable[[], Awaitable[str]]
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
MISSING = (
    "the azure provider needs an endpoint and a credential: set AZURE_OPENAI_ENDPOINT "
    "(https://RESOURCE.openai.azure.com) and AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN (or install "
    "easel-mcp[azure] to sign in with Entra ID); missing: {missing}"
)
PROFILE = ProviderProfile(
    "azure",
    "S: Azure OpenAI image docs, via image-apis.md §4",
    # auto picks azure for a key or an AD token (Entra ID sign-in only when chosen by name)
    configured=lambda s: bool(s.azure_endpoint) and (secret_set(s.azure_api_key) or secret_set(s.azure_ad_token)),
    families=OPENAI_FAMILIES,
    output_formats_excluded=("webp",),
    default_quality={"gpt-image-1-mini": "medium", "*": "high"},
    input_fidelity_unsupported=("gpt-image-1-mini",),
    unknown_models="refuse",
)


class AzureProvider(OpenAIProvider):
    """Azure OpenAI image deployments."""

    name = "azure"
    profile: ClassVar[ProviderProfile] = PROFILE
    hints: ClassVar[ErrorHints] = ErrorHints(
        key="AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN)",
        base_url="AZURE_OPENAI_ENDPOINT",
        not_found="check the deployment name: EASEL_AZURE_DEPLOYMENTS maps models to deployments (an unmapped "
        "model is sent as its own deployment name)",
    )

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str | None = None,
        ad_token: str | None = None,
        token_provider: TokenProvider | None = None,
        api_version: str | None = None,
        deployments: Mapping[str, str] | None = None,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if sum(x is not None for x in (api_key, ad_token, token_provider)) != 1:
            raise ConfigurationError(
                "the azure provider takes exactly one of an API key, an AD token or a token provider"
            )
        super().__init__(
            api_key=api_key or "", base_url=endpoint, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s
        )
        self.endpoint = endpoint
        self._ad_token = ad_token
        self._token_provider = token_provider
        self.api_version = api_version
        self.deployments = dict(deployments or {})

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureProvider:
        endpoint = normalize_endpoint(settings.azure_endpoint or "")
        key = _secret(settings.azure_api_key)
        token = _secret(settings.azure_ad_token)
        provider: TokenProvider | None = None
        if endpoint and not key and not token:
            provider = entra_token_provider()
        missing = [
            name
            for name, ok in (("AZURE_OPENAI_ENDPOINT", endpoint), ("AZURE_OPENAI_API_KEY", key or token or provider))
            if not ok
        ]
        if missing:
            raise ConfigurationError(MISSING.format(missing=", ".join(missing)))
        return cls(
            endpoint=endpoint,
            api_key=None if token else key,  # as the SDK: an AD token wins over a key
            ad_token=token,
            token_provider=provider,
            api_version=settings.azure_api_version,
            deployments=parse_deployments(settings.azure_deployments),
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )

    def _build_client(self) -> AsyncOpenAI:
        from openai import AsyncAzureOpenAI, AsyncOpenAI

        if self.api_version:  # dated form; the SDK routes /images/* to /deployments/{model}/images/*
            return AsyncAzureOpenAI(
                azure_endpoint=self.endpoint,
                api_version=self.api_version,
                api_key=self._api_key or None,
                azure_ad_token=self._ad_token,
                azure_ad_token_provider=self._token_provider,
                max_retries=0,
                timeout=self._timeout(),
            )
        bearer: str | TokenProvider | None = self._ad_token or self._token_provider
        return AsyncOpenAI(
            base_url=f"{self.endpoint}/openai/v1",
            api_key=bearer or self._api_key,
            default_headers=None if bearer else {"api-key": self._api_key},
            max_retries=0,
            timeout=self._timeout(),
        )

    def _call_options(self) -> dict[str, Any]:
        if self.api_version or self._ad_token or self._token_provider:
            return {}
        from openai import omit

        return {"extra_headers": {"Authorization": omit}}  # v1 with a key: `api-key` only, no bearer

    def _wire_model(self, model: str) -> str:
        from easel_mcp.catalog import get_model

        spec = get_model(model)
        return self.deployments.get(model.lower()) or (self.deployments.get(spec.name) if spec else None) or model

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key, self._ad_token)

    def _translate(self, exc: Exception) -> ProviderError:
        if type(exc).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError"):  # azure-identity
            return AuthenticationFailed(
                f"Entra ID sign-in failed ({redact(str(exc), limit=300)}); sign in (e.g. `az login`) or set "
                "AZURE_OPENAI_API_KEY",
                provider=self.name,
            )
        return super()._translate(exc)


def normalize_endpoint(text: str) -> str:
    """'https://r.openai.azure.com/openai/v1/' -> 'https://r.openai.azure.com' ('' stays '')."""
    from urllib.parse import urlsplit

    url = text.strip().rstrip("/")
    if not url:
        return ""
    for suffix in ("/openai/v1", "/openai"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(
            f"AZURE_OPENAI_ENDPOINT must be a URL such as https://RESOURCE.openai.azure.com (got {text[:80]!r})"
        )
    return url


def parse_deployments(text: str | None) -> dict[str, str]:
    """'gpt-image-1.5=my-deploy, gpt-image-2=img2' -> {'gpt-image-1.5': 'my-deploy', 'gpt-image-2': 'img2'}."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        model, sep, deployment = (x.strip() for x in item.partition("="))
        if not sep or not model or not deployment or "/" in deployment:
            raise ConfigurationError(
                f"EASEL_AZURE_DEPLOYMENTS: {item[:60]!r} is not model=deployment (e.g. 'gpt-image-1.5=my-deploy')"
            )
        out[model.lower()] = deployment
    return out


def entra_token_provider() -> TokenProvider | None:
    """An async bearer-token source from azure-identity's DefaultAzureCredential, if it is installed."""
    try:
        if importlib.util.find_spec("azure.identity") is None:
            return None
    except (ImportError, ValueError):
        return None
    identity = importlib.import_module("azure.identity")
    sync_provider: Callable[[], str] = identity.get_bearer_token_provider(
        identity.DefaultAzureCredential(), ENTRA_SCOPE
    )

    async def token() -> str:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(sync_provider)

    return token


def _secret(value: Any) -> str | None:
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None
