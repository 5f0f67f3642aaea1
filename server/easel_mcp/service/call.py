"""One call as a value: what the agent asked for, validated and resolved, with its estimate and the
provider request built once from it. Frozen: per-call facts learnt later (the job id) travel in a copy
made with `dataclasses.replace`, never by mutation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from easel_mcp.checked import close_held
from easel_mcp.identity import current_user
from easel_mcp.providers.base import EditRequest, GenerateRequest

if TYPE_CHECKING:
    from easel_mcp.catalog.estimate import Estimate
    from easel_mcp.catalog.validate import Options
    from easel_mcp.inputs import LoadedInput
    from easel_mcp.providers.base import InputImage

Operation = Literal["generate", "edit", "inpaint", "outpaint"]
Finish = Callable[[list[bytes]], list[bytes]]
"""Post-processing of the decoded answer before it is written (inpaint/outpaint: composite, crop)."""
ProviderRequest = GenerateRequest | EditRequest
Pixels = tuple[int, int]


@dataclass(frozen=True, slots=True, eq=False)
class Call:
    """Everything about one call: it goes into the ledger row, the sidecars and the result."""

    operation: Operation
    prompt: str
    options: Options
    provider: str
    label: str
    estimate: Estimate
    request: ProviderRequest
    inputs: tuple[LoadedInput, ...] = ()
    mask: bytes | None = None
    mask_facts: Mapping[str, Any] = field(default_factory=dict)  # recorded in the sidecar
    geometry: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    input_sizes: tuple[Pixels, ...] = ()
    finish: Finish | None = None
    user: str | None = None  # the caller's OAuth subject; None without OAuth
    job_id: str | None = None  # set (in a copy) once the engine runs it

    @property
    def model(self) -> str:
        return self.options.model

    @property
    def extra(self) -> dict[str, Any]:
        """What the sidecar records beside the parameters: the mask's facts and the job id."""
        return {**self.mask_facts, **({"job_id": self.job_id} if self.job_id else {})}

    def close(self) -> None:
        """The call is over: let go of the input files it held open since they were checked."""
        close_held(i.image for i in self.inputs)
        if isinstance(self.request, EditRequest):
            close_held(self.request.images)


def estimate_call(
    options: Options, prompt: str, input_sizes: Sequence[Pixels] = (), partial_images: int = 0
) -> Estimate:
    """What a call with these options would cost (the catalog's prices)."""
    from easel_mcp.catalog.estimate import estimate

    return estimate(
        options.model,
        size=options.dimensions,
        quality=options.quality,
        n=options.n,
        prompt=prompt,
        input_sizes=input_sizes,
        input_fidelity=options.input_fidelity,
        partial_images=partial_images or options.partial_images,
    )


def new_call(
    operation: Operation,
    prompt: str,
    options: Options,
    provider: str,
    label: str,
    *,
    inputs: Iterable[LoadedInput] = (),
    sent: Iterable[InputImage] | None = None,
    mask: bytes | None = None,
    mask_facts: Mapping[str, Any] | None = None,
    geometry: dict[str, Any] | None = None,
    warnings: Iterable[str] = (),
    input_sizes: Sequence[Pixels] | None = None,
    finish: Finish | None = None,
    wire_format: str | None = None,
) -> Call:
    """The call, with its estimate and provider request. `sent` are the images sent upstream when they are
    not the inputs themselves (inpaint/outpaint send a prepared canvas); `wire_format` is the format asked of
    the model when the final one is encoded afterwards (lossless png for inpaint/outpaint)."""
    loaded = tuple(inputs)
    sizes = tuple(input_sizes) if input_sizes is not None else tuple((i.width, i.height) for i in loaded)
    return Call(
        operation=operation,
        prompt=prompt,
        options=options,
        provider=provider,
        label=label,
        estimate=estimate_call(options, prompt, sizes),
        request=provider_request(
            operation,
            prompt,
            options,
            tuple(sent) if sent is not None else tuple(i.image for i in loaded),
            mask,
            wire_format,
        ),
        inputs=loaded,
        mask=mask,
        mask_facts=dict(mask_facts or {}),
        geometry=geometry,
        warnings=tuple(warnings),
        input_sizes=sizes,
        finish=finish,
        user=current_user(),
    )


def provider_request(
    operation: Operation,
    prompt: str,
    options: Options,
    images: tuple[InputImage, ...],
    mask: bytes | None,
    wire_format: str | None,
) -> ProviderRequest:
    """The provider request for a call: the one place the options become an upstream's fields."""
    o = options
    if operation == "generate":
        return GenerateRequest(
            model=o.model,
            prompt=prompt,
            size=o.size,
            dimensions=o.dimensions,
            quality=o.quality,
            n=o.n,
            background=o.background,
            output_format=o.output_format,
            output_compression=o.output_compression,
            moderation=o.moderation,
            partial_images=o.partial_images,
        )
    return EditRequest(
        model=o.model,
        prompt=prompt,
        images=images,
        size=o.size,
        dimensions=o.dimensions,
        quality=o.quality,
        n=o.n,
        mask=mask,
        input_fidelity=o.input_fidelity,
        background=o.background,
        output_format=wire_format or o.output_format,
        output_compression=None if wire_format else o.output_compression,
        partial_images=o.partial_images,
    )
