"""All configuration, read once at start-up (never at import) from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderName = Literal["auto", "openai", "offline"]


def default_workspace() -> Path:
    """A per-user folder for the images (the user's Pictures folder when there is one)."""
    import platformdirs

    return platformdirs.user_pictures_path() / "Easel"


class Settings(BaseSettings):
    """Easel's settings. Every field is an environment variable (`EASEL_<NAME>` unless noted)."""

    model_config = SettingsConfigDict(env_prefix="EASEL_", extra="ignore", populate_by_name=True)

    workspace: Path | None = Field(
        default=None, description="Folder where every image and sidecar is written (default: ~/Pictures/Easel)."
    )
    input_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra folders images may be read from (read-only), separated by the OS path separator.",
    )
    provider: ProviderName = Field(
        default="auto", description="auto (openai when OPENAI_API_KEY is set, else offline), openai or offline."
    )
    model: str = Field(default="gpt-image-1.5", description="Model used when a call names none.")
    timeout_s: float = Field(default=300.0, gt=0, description="Total time allowed for one upstream request.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Time allowed to connect upstream.")
    preview_budget_bytes: int = Field(
        default=200_000, ge=4_000, description="Total bytes of inline previews in one result."
    )
    auth_token: SecretStr | None = Field(
        default=None, description="When set, every HTTP request needs 'Authorization: Bearer <token>'."
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

    @field_validator("input_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            import os

            return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
        return value

    @field_validator("openai_base_url", "openai_org_id", "openai_project_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # The official SDK treats an empty variable as unset; so do we.
        return None if isinstance(value, str) and not value.strip() else value

    def resolved_provider(self) -> str:
        if self.provider != "auto":
            return self.provider
        key = self.openai_api_key.get_secret_value() if self.openai_api_key else ""
        return "openai" if key.strip() else "offline"

    def workspace_path(self) -> Path:
        return (self.workspace or default_workspace()).expanduser()
