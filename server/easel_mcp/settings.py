"""All configuration, read once at start-up (never at import) from the environment.

A plain pydantic model filled from `EASEL_<NAME>` variables (and the SDKs' own names, such as OPENAI_API_KEY,
where a field says so), names matched regardless of case, an argument winning over the environment. No
settings framework: pydantic-settings' import alone (its cloud and dotenv sources) cost start-up more than
the rest of Easel's own modules, on a path every stdio start and CLI command takes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

ENV_PREFIX = "EASEL_"


def default_workspace() -> Path:
    """A per-user folder for the images (the user's Pictures folder when there is one)."""
    import platformdirs

    return platformdirs.user_pictures_path() / "Easel"


class Settings(BaseModel):
    """Easel's settings. Every field is an environment variable (`EASEL_<NAME>` unless noted); `Settings(**values)`
    reads the environment for the fields not given."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**from_environment(os.environ, exclude=values), **values})

    workspace: Path | None = Field(
        default=None, description="Folder where every image and sidecar is written (default: ~/Pictures/Easel)."
    )
    input_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra folders images may be read from (read-only), separated by the OS path separator.",
    )
    allow_urls: bool = Field(
        default=False,
        description="Accept https URLs as input images (public addresses only, 50 MB, 60 s, 3 redirects re-checked).",
    )
    provider: str = Field(
        default="auto",
        description="auto (the first of openai, azure, gemini whose credentials are set, else offline), openai, "
        "azure, compatible, gemini or offline.",
    )
    model: str = Field(default="gpt-image-1.5", description="Model used when a call names none.")
    timeout_s: float = Field(default=300.0, gt=0, description="Total time allowed for one upstream request.")
    sync_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Return a running call as a job (get_job) after this many seconds; unset: wait to the end.",
    )
    retry_max_attempts: int = Field(default=3, ge=1, le=10, description="Upstream attempts per call, retries included.")
    retry_base_delay_s: float = Field(default=1.0, ge=0, description="First retry delay; doubles, with jitter.")
    retry_after_cap_s: float = Field(default=60.0, ge=0, description="Longest Retry-After wait honoured.")
    max_concurrency: int = Field(default=4, ge=1, le=64, description="Upstream calls running at once.")
    shutdown_grace_s: float = Field(default=30.0, ge=0, description="On shut-down, time left to running calls.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Time allowed to connect upstream.")
    preview_budget_bytes: int = Field(
        default=200_000, ge=4_000, description="Total bytes of inline previews in one result."
    )
    prices_file: Path | None = Field(
        default=None, description="JSON file of price rows that override the built-in table (gateways)."
    )
    models_file: Path | None = Field(
        default=None,
        description="JSON file describing models the catalog does not know yet (sizes, qualities, fields, prices).",
    )
    max_cost_per_call_usd: float | None = Field(default=None, gt=0, description="Refuse calls that could cost more.")
    daily_budget_usd: float | None = Field(default=None, gt=0, description="Spending limit per UTC day.")
    monthly_budget_usd: float | None = Field(default=None, gt=0, description="Spending limit per UTC month.")
    user_daily_budget_usd: float | None = Field(
        default=None, gt=0, description="Spending limit per user (OAuth subject) per UTC day."
    )
    user_monthly_budget_usd: float | None = Field(
        default=None, gt=0, description="Spending limit per user (OAuth subject) per UTC month."
    )
    preview_max_bytes_per_image: int = Field(
        default=70_000, ge=2_048, description="Bytes of one inline preview at most (about 94 KB once base64-encoded)."
    )
    auth_token: SecretStr | None = Field(
        default=None, description="When set, every HTTP request needs 'Authorization: Bearer <token>'."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db: the ledger (money, budgets, jobs) and the image index "
        "in PostgreSQL.",
    )
    store_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: images, sidecars, masks and partials in an S3-compatible store (the "
        "workspace folder becomes this replica's cache; uploads the store cannot take wait in a local spool).",
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="With EASEL_STORE_URL: the endpoint of a non-AWS store (R2, MinIO, Ceph); credentials and "
        "region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.",
    )
    s3_allow_http: bool = Field(
        default=False, description="Allow a plain http:// EASEL_S3_ENDPOINT on a non-loopback host (private networks)."
    )
    store_flush_s: float = Field(
        default=30.0, gt=0, description="With EASEL_STORE_URL: how often images waiting in the spool are uploaded."
    )
    replica_heartbeat_s: float = Field(
        default=10.0,
        gt=0,
        description="With EASEL_DATABASE_URL: how often a replica says it is alive; the open calls of a replica "
        "silent for 3 times this are settled by the others.",
    )
    oauth_issuer: str | None = Field(
        default=None,
        description="OAuth 2.1 issuer whose JWTs the HTTP transports accept (keys from its metadata's jwks_uri).",
    )
    public_url: str | None = Field(
        default=None,
        description="Full URL of the MCP endpoint as clients reach it: the resource id and the tokens' audience.",
    )
    oauth_scopes: list[str] = Field(
        default_factory=lambda: ["easel"], description="Scopes every token must carry (comma or space separated)."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the HTTP transports (CORS), comma-separated; none by default.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY"), description="OpenAI API key."
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL"),
        description="Base URL of the OpenAI API or a server that speaks it.",
    )
    openai_org_id: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_ORG_ID"))
    openai_project_id: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_PROJECT_ID"))

    # Azure OpenAI
    azure_endpoint: str | None = Field(default=None, validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT"))
    azure_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("AZURE_OPENAI_API_KEY"))
    azure_ad_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("AZURE_OPENAI_AD_TOKEN"))
    azure_api_version: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_VERSION"),
        description="Set for the dated URL form (/openai/deployments/D/...?api-version=V); unset: the v1 API.",
    )
    azure_deployments: str | None = Field(
        default=None, description="model=deployment pairs, comma-separated: 'gpt-image-1.5=my-deploy,...'."
    )

    # OpenAI-compatible gateway
    base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible gateway.")
    api_key: SecretStr | None = Field(default=None, description="API key of the gateway.")
    extra_headers: str | None = Field(
        default=None, description="Extra HTTP headers for the gateway: JSON object or 'Name=value,Name2=value2'."
    )

    # Google Gemini
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_base_url: str = Field(
        default="https://generativelanguage.googleapis.com", description="Gemini API base URL."
    )

    @field_validator("input_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
        return value

    @field_validator("oauth_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        from easel_mcp.netguard import parse_origins

        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        return parse_origins(value) if isinstance(value, str) else value

    @field_validator(
        "oauth_issuer",
        "public_url",
        "store_url",
        "s3_endpoint",
        "openai_base_url",
        "openai_org_id",
        "openai_project_id",
        "azure_endpoint",
        "azure_api_version",
        "base_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # The official SDK treats an empty variable as unset; so do we.
        return None if isinstance(value, str) and not value.strip() else value

    def workspace_path(self) -> Path:
        return (self.workspace or default_workspace()).expanduser()


def env_names(name: str) -> tuple[str, ...]:
    """The environment variables a field is read from: its aliases (OPENAI_API_KEY...), else EASEL_<NAME>."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (f"{ENV_PREFIX}{name.upper()}",)


def from_environment(environ: Mapping[str, str], *, exclude: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The fields set in `environ` (names matched regardless of case; the first of a field's names that is set),
    leaving out the fields `exclude` names (by field name or alias)."""
    upper = {key.upper(): value for key, value in environ.items()}
    given = {key.upper() for key in exclude or {}}
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        names = env_names(name)
        if name.upper() in given or any(n.upper() in given for n in names):
            continue
        for env_name in names:
            if env_name.upper() in upper:
                out[name] = upper[env_name.upper()]
                break
    return out


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """One warning per EASEL_* variable that is no setting (a typo such as EASEL_DAILY_BUDGT_USD would
    otherwise be ignored in silence, and a budget with it), with the closest setting's name."""
    import difflib

    known = [n for name in Settings.model_fields for n in env_names(name) if n.startswith(ENV_PREFIX)]
    out = []
    for name in sorted(os.environ if environ is None else environ):
        if name.upper().startswith("EASEL_") and name.upper() not in known and name not in NOT_SETTINGS:
            close = difflib.get_close_matches(name.upper()[6:], [k[6:] for k in known], n=1, cutoff=0.7)
            hint = f" (did you mean EASEL_{close[0]}?)" if close else ""
            out.append(f"{name} is not an Easel setting{hint}; it is ignored")
    return out


NOT_SETTINGS = frozenset({"EASEL_REFERENCE_DIR"})  # read by the test fakes, not by Easel
