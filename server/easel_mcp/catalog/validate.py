"""Check a request against the catalog before anything leaves the machine.

Returns the options exactly as they will be sent (named sizes resolved, fields a model does not
take dropped with a warning) or raises `InvalidRequest` saying what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from easel_mcp.catalog import all_models, get_model
from easel_mcp.catalog.models import ModelSpec
from easel_mcp.errors import InvalidRequest
from easel_mcp.providers import profile_of
from easel_mcp.sizes import Size

if TYPE_CHECKING:
    from easel_mcp.providers.profile import ProviderProfile

Operation = Literal["generate", "edit"]
NAMED_SIZES = ("square", "portrait", "landscape")


@dataclass(slots=True)
class Options:
    """A request's options, validated and normalised. The size is parsed here, once: `dimensions` is the
    value every consumer reads (None for auto); `size` is its text for the wire and the agent."""

    model: str
    spec: ModelSpec | None
    dimensions: Size | None
    quality: str
    n: int
    output_format: str
    background: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    partial_images: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> str:
        """'1536x1024' or 'auto': how the request, the sidecar and the result write the size."""
        return "auto" if self.dimensions is None else self.dimensions.text


def resolve_size(size: str | None, spec: ModelSpec | None, model: str) -> Size | None:
    """'landscape' -> Size(1536, 1024); '1536X1024' -> Size(1536, 1024); 'auto' -> None. Checks the model's
    size rule. The one place a call's size text is parsed."""
    text = (size or "auto").strip().lower()
    if text == "auto":
        return None
    if text in NAMED_SIZES:
        if spec is None:
            named = {"square": Size(1024, 1024), "landscape": Size(1536, 1024), "portrait": Size(1024, 1536)}
            return named[text]
        named_size = spec.sizes.named_size(text)
        if named_size is None:
            raise InvalidRequest(f"{model} has no {text} size; allowed: {spec.sizes.describe()}", field="size")
        return Size(*named_size)
    parsed = Size.parse(text)
    if parsed is None:
        raise InvalidRequest(
            f"size {size!r} is not understood; use WIDTHxHEIGHT (e.g. 1536x1024), square, portrait, landscape or auto",
            field="size",
        )
    if spec is not None and (problem := spec.sizes.problem(parsed)) is not None:
        raise InvalidRequest(f"size {parsed.text} is not valid for {model}: {problem}", field="size")
    return parsed


def unknown_model(model: str, limits: ProviderProfile) -> str:
    """Why an unknown model is refused on `limits.name`: what it serves, and how to add a model."""
    import difflib

    served = [m.name for m in all_models() if m.usable and limits.serves(m)]
    close = difflib.get_close_matches(model.lower(), served, n=1, cutoff=0.6)
    like = close[0] if close else served[0]
    return (
        f"model {model!r} is not in Easel's catalog, so it was not sent to {limits.name}"
        + (f" (did you mean {close[0]!r}?)" if close else "")
        + f"; the {limits.name} provider serves {', '.join(served)}. To use a model Easel does not know "
        f"yet, describe it in a JSON file named by EASEL_MODELS_FILE, e.g. "
        f'{{"{model}": {{"like": "{like}", "prices": {{"image_out": 30}}}}}} (sizes, qualities, fields and prices '
        "as in the README), and restart Easel"
    )


def resolve_options(
    operation: Operation,
    *,
    model: str,
    prompt: str,
    size: str | None = None,
    quality: str | None = None,
    n: int = 1,
    background: str | None = None,
    output_format: str | None = None,
    output_compression: int | None = None,
    moderation: str | None = None,
    input_fidelity: str | None = None,
    partial_images: int = 0,
    image_count: int = 0,
    has_mask: bool = False,
    provider: str | None = None,
) -> Options:
    """`provider` (optional) applies that upstream's differences (its `ProviderProfile`)."""
    model = model.strip()
    spec = get_model(model)
    limits = profile_of(provider)
    warnings: list[str] = []
    if spec is None:
        if limits is not None and limits.unknown_models == "refuse":
            raise InvalidRequest(unknown_model(model, limits), field="model")
        gateway = f"the {limits.name} provider passes it to the upstream as named" if limits else "it is sent as named"
        warnings.append(
            f"model {model!r} is not in Easel's catalog: {gateway}; sizes and qualities were not checked, and the "
            "cost is unknown unless EASEL_MODELS_FILE or EASEL_PRICES_FILE prices it"
        )
    else:
        model = spec.name if model.lower() == spec.name else model
        if spec.status == "retired" and not spec.usable:
            raise InvalidRequest(
                f"{spec.name} is retired ({spec.status_note}); use gpt-image-1.5 or gpt-image-2", field="model"
            )
        if spec.status in ("retired", "deprecated", "listed"):
            warnings.append(f"{spec.name}: {spec.status_note}")
        if limits is not None and not limits.serves(spec):
            served = ", ".join(m.name for m in all_models() if m.usable and limits.serves(m))
            raise InvalidRequest(
                f"{spec.name} is not served by the {limits.name} provider; use one of {served}", field="model"
            )

    if not prompt.strip():
        raise InvalidRequest("the prompt is empty; describe the image you want", field="prompt")
    max_chars = spec.max_prompt_chars if spec else 32_000
    if len(prompt) > max_chars:
        raise InvalidRequest(
            f"the prompt has {len(prompt):,} characters; {model} takes at most {max_chars:,}", field="prompt"
        )

    max_n = spec.max_n if spec else 10
    if not 1 <= n <= max_n:
        raise InvalidRequest(f"n must be between 1 and {max_n} for {model} (got {n})", field="n")

    fmt = (output_format or "png").lower().replace("jpg", "jpeg")
    formats = spec.output_formats if spec else ("png", "jpeg", "webp")
    if limits is not None and fmt in limits.output_formats_excluded:
        rest = [f for f in formats if f not in limits.output_formats_excluded]
        raise InvalidRequest(
            f"{fmt} output is not offered by {limits.name}; use {' or '.join(rest)}", field="output_format"
        )
    if fmt not in formats:
        raise InvalidRequest(
            f"output_format {fmt!r} is not offered by {model}; use one of {', '.join(formats)}", field="output_format"
        )

    if output_compression is not None:
        if fmt not in ("jpeg", "webp"):
            raise InvalidRequest(
                "output_compression applies only to jpeg or webp output; set output_format to "
                "jpeg or webp, or leave output_compression out",
                field="output_compression",
            )
        if not 0 <= output_compression <= 100:
            raise InvalidRequest("output_compression must be 0-100", field="output_compression")

    if background is not None:
        background = background.lower()
        if background == "transparent":
            if fmt not in ("png", "webp"):
                raise InvalidRequest("a transparent background needs output_format png or webp", field="background")
            if spec is not None and spec.transparent_background == "no":
                raise InvalidRequest(f"{model} cannot make transparent backgrounds", field="background")
            if spec is not None and spec.transparent_background == "preview":
                warnings.append(f"transparent backgrounds are a preview feature on {model}; check the result")

    qualities = spec.qualities if spec else ()
    q = (quality or "auto").lower()
    if q == "auto" and limits is not None and (default_q := limits.quality_for_auto(spec.name if spec else model)):
        q = default_q
        warnings.append(
            f"{limits.name} renders quality auto as {q} for {model}; the estimate assumes {q} "
            "(pass quality=low or medium for cheaper images)"
        )
    if qualities and q not in qualities:
        raise InvalidRequest(
            f"quality {q!r} is not valid for {model}; use one of {', '.join(qualities)}", field="quality"
        )

    if operation == "edit":
        if moderation is not None:
            warnings.append("moderation applies to generations only; it was not sent with this edit")
            moderation = None
        if spec is not None and not spec.edits:
            raise InvalidRequest(f"{model} cannot edit images; use gpt-image-1.5 or gpt-image-2", field="model")
        max_images = spec.max_input_images if spec else 16
        if not 1 <= image_count <= max_images:
            raise InvalidRequest(f"{model} takes 1 to {max_images} input images (got {image_count})", field="images")
        if has_mask and spec is not None and not spec.masks and not spec.mask_guidance:
            raise InvalidRequest(f"{model} does not take masks", field="mask")
        if input_fidelity is not None:
            fidelity = input_fidelity.lower()
            if limits is not None and (spec.name if spec else model) in limits.input_fidelity_unsupported:
                warnings.append(
                    f"input_fidelity is not accepted by {model} on {limits.name}; it was left out of the request"
                )
                input_fidelity = None
            elif spec is not None and not spec.input_fidelity:
                warnings.append(f"input_fidelity is not accepted by {model}; it was left out of the request")
                input_fidelity = None
            elif spec is not None and fidelity not in spec.input_fidelity:
                raise InvalidRequest(
                    f"input_fidelity {fidelity!r} is not valid for {model}; use one of "
                    f"{', '.join(spec.input_fidelity)}",
                    field="input_fidelity",
                )
            else:
                input_fidelity = fidelity
    else:
        input_fidelity = None
        if moderation is not None:
            moderation = moderation.lower()
            if moderation not in ("low", "auto"):
                raise InvalidRequest("moderation must be low or auto", field="moderation")
            if spec is not None and not spec.moderation:
                warnings.append(f"{model} takes no moderation setting; it was left out")
                moderation = None

    if partial_images:
        if not 0 <= partial_images <= 3:
            raise InvalidRequest("partial_images must be 0-3", field="partial_images")
        if spec is not None and not spec.streaming:
            warnings.append(f"{model} does not stream partial images; partial_images was left out")
            partial_images = 0
    return Options(
        model=model,
        spec=spec,
        dimensions=resolve_size(size, spec, model),
        quality=q,
        n=n,
        output_format=fmt,
        background=background,
        output_compression=output_compression,
        moderation=moderation,
        input_fidelity=input_fidelity,
        partial_images=partial_images,
        warnings=warnings,
    )
