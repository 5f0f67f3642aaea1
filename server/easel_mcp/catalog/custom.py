"""Models added by configuration: EASEL_MODELS_FILE, a JSON object of model name -> description.

A new upstream model then needs no new release of Easel: describe what it accepts and what it costs,
or name a catalog model it is `like` and give only what differs::

    {"gpt-image-3": {"like": "gpt-image-2", "prices": {"image_out": 40}},
     "house-model": {"family": "gpt-image-1", "sizes": {"fixed": ["1024x1024"]}, "qualities": ["low", "high"],
                     "prices": {"text_in": 5, "image_in": 8, "image_out": 32, "output_tokens": "formula",
                                "bases": {"low": 16, "high": 96}}}}

The file is validated as a whole at start-up (pydantic, unknown fields refused); a mistake is a
ConfigurationError that names the model, the field and what is allowed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator

from easel_mcp.catalog import MODELS, get_model, set_custom_models
from easel_mcp.catalog.models import ModelSpec, SizeRule, format_size, parse_size
from easel_mcp.catalog.prices import CUSTOM_PRICES, PriceRow, price_row
from easel_mcp.errors import ConfigurationError

ENV = "EASEL_MODELS_FILE"
MAX_FILE_BYTES = 1024 * 1024
Family = Literal["gpt-image-1", "gpt-image-2", "gpt-image-2.5", "dall-e", "gemini"]
_STRICT = ConfigDict(extra="forbid")


def _size(text: str) -> tuple[int, int]:
    parsed = parse_size(text)
    if parsed is None or min(parsed) <= 0:
        raise ValueError(f"{text!r} is not a size; write WIDTHxHEIGHT, e.g. 1024x1024")
    return parsed


class Sizes(BaseModel):
    """`fixed` sizes, or the rule for any WxH (sides multiple of `multiple`, pixel count and edge limits)."""

    model_config = _STRICT
    fixed: list[str] = Field(default_factory=list, description="Exactly these sizes, e.g. ['1024x1024'].")
    multiple: int = Field(default=16, ge=1)
    min_pixels: int = Field(default=655_360, ge=1)
    max_pixels: int = Field(default=8_294_400, ge=1)
    max_edge: int = Field(default=3840, ge=1)
    max_aspect: float = Field(default=3.0, ge=1.0)
    named: dict[Literal["square", "landscape", "portrait"], str] = Field(default_factory=dict)

    @field_validator("fixed")
    @classmethod
    def _sizes(cls, value: list[str]) -> list[str]:
        for text in value:
            _size(text)
        return value

    def rule(self) -> SizeRule:
        named: dict[str, tuple[int, int]] = {k: _size(v) for k, v in self.named.items()}
        fixed = tuple(_size(s) for s in self.fixed)
        if not named:
            defaults = {"square": (1024, 1024), "landscape": (1536, 1024), "portrait": (1024, 1536)}
            named = {k: v for k, v in defaults.items() if not fixed or v in fixed}
        rule = SizeRule(
            fixed=fixed,
            multiple=self.multiple,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            max_edge=self.max_edge,
            max_aspect=self.max_aspect,
            named=tuple(named.items()),
        )
        for name, size in named.items():
            if (problem := rule.problem(size)) is not None:
                raise ValueError(f"the {name} size {format_size(size)} breaks the model's own rule: {problem}")
        return rule


class Prices(BaseModel):
    """USD per 1M tokens and how output tokens are counted (as the built-in price rows)."""

    model_config = _STRICT
    text_in: float | None = Field(default=None, ge=0)
    image_in: float | None = Field(default=None, ge=0)
    image_out: float | None = Field(default=None, ge=0)
    output_tokens: Literal["table", "formula", "none"] | None = None
    bases: dict[str, int] | None = None
    table: dict[str, dict[str, int]] | None = None
    per_image: dict[str, dict[str, float]] | None = None
    source: str | None = None
    as_of: date | None = None
    note: str | None = None


class CustomModel(BaseModel):
    """One model. With `like`, every field not given is the catalog model's; without, `family`, `sizes`
    and `qualities` are required."""

    model_config = _STRICT
    like: str | None = Field(default=None, description="A catalog model this one behaves like.")
    family: Family | None = None
    status: Literal["live", "deprecated", "listed"] = "live"
    status_note: str = ""
    sizes: Sizes | None = None
    qualities: list[str] | None = None
    output_formats: list[Literal["png", "jpeg", "webp"]] | None = None
    edits: bool | None = None
    masks: bool | None = None
    max_input_images: int | None = Field(default=None, ge=1, le=16)
    transparent_background: Literal["yes", "preview", "no"] | None = None
    input_fidelity: list[Literal["low", "high"]] | None = None
    moderation: bool | None = None
    streaming: bool | None = None
    max_n: int | None = Field(default=None, ge=1, le=10)
    max_prompt_chars: int | None = Field(default=None, ge=1)
    extra_fields: list[str] | None = None
    aliases: list[str] = Field(default_factory=list)
    prices: Prices | None = None


class ModelsFile(RootModel[dict[str, CustomModel]]):
    pass


def _spec(name: str, model: CustomModel, source: str) -> ModelSpec:
    base = get_model(model.like) if model.like else None
    if model.like and base is None:
        known = ", ".join(m.name for m in MODELS)
        raise ValueError(f"like: {model.like!r} is not a catalog model; use one of {known}")
    given: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in model.model_dump(exclude={"like", "sizes", "prices", "aliases"}, exclude_none=True).items()
    }
    if model.sizes is not None:
        given["sizes"] = model.sizes.rule()
    common: dict[str, Any] = {
        "name": name,
        "aliases": tuple(a.strip().lower() for a in model.aliases),
        "source": source,
    }
    if base is not None:
        return replace(base, **given, **common, as_of=date.today(), status_date=None)
    missing = [f for f in ("family", "sizes", "qualities") if f not in given]
    if missing:
        raise ValueError(f"give {', '.join(missing)}, or `like` with a catalog model this one behaves like")
    return ModelSpec(**given, **common, as_of=date.today())


def _price(name: str, model: CustomModel, source: str) -> PriceRow | None:
    base = price_row(model.like) if model.like else None
    given = model.prices.model_dump(exclude_none=True) if model.prices else {}
    if base is None and not given:
        return None
    values = {"source": source, "as_of": date.today(), **given}
    if base is not None:
        return replace(base, model=name, **values)
    unpriced: dict[str, Any] = {"text_in": None, "image_in": None, "image_out": None, "output_tokens": "none"}
    return PriceRow(model=name, **{**unpriced, **values})


def load_models_file(path: Path | None) -> list[str]:
    """Read EASEL_MODELS_FILE (None: remove the models an earlier file added); the model names added."""
    if path is None:
        set_custom_models([])
        CUSTOM_PRICES.clear()
        return []
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigurationError(f"{ENV} {path} is larger than {MAX_FILE_BYTES // 1024} KB")
        parsed = ModelsFile.model_validate(json.loads(raw))
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"{ENV} {path} cannot be read: {_why(e)}") from e
    source = f"{ENV} {path.name}"
    specs: list[ModelSpec] = []
    prices: dict[str, PriceRow] = {}
    for raw_name, model in parsed.root.items():
        name = raw_name.strip().lower()
        try:
            spec = _spec(name, model, source)
            row = _price(name, model, source)
        except (ValueError, TypeError) as e:
            raise ConfigurationError(f"{ENV} {path}: {raw_name}: {e}") from e
        specs.append(spec)
        if row is not None:
            prices[name] = row
    set_custom_models(specs)
    CUSTOM_PRICES.clear()
    CUSTOM_PRICES.update(prices)
    return [s.name for s in specs]


def _why(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}" for e in error.errors(include_url=False)
        )
    return str(error)


__all__ = ["ENV", "CustomModel", "ModelsFile", "load_models_file"]
