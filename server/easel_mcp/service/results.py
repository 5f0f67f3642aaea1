"""What a call answers besides its images: a dry run, a call still running, the cheaper options a budget
refusal names, and the cost of a billed answer that could not be used."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from easel_mcp.schemas.results import ImageResult
from easel_mcp.service.call import estimate_call
from easel_mcp.sizes import Size

if TYPE_CHECKING:
    from easel_mcp.errors import ProviderError
    from easel_mcp.service.call import Call
    from easel_mcp.service.jobs import Job


SQUARE = Size(1024, 1024)


def _without_images(call: Call, **fields: Any) -> ImageResult:
    o = call.options
    return ImageResult(
        images=[],
        model=o.model,
        operation=call.operation,
        size=o.size,
        quality=o.quality,
        estimated_cost_usd=call.estimate.total_usd,
        geometry=call.geometry,
        **fields,
    )


def dry_run_result(call: Call, budget_left: dict[str, float | None]) -> ImageResult:
    """What a dry run answers: the estimate, and whether the budget would refuse the real call."""
    estimate = call.estimate
    result = _without_images(
        call,
        provider=call.provider,
        cost_usd=None,
        cost_note="dry run: nothing was sent or written",
        elapsed_s=0.0,
        dry_run=True,
        warnings=[*call.options.warnings, *call.warnings, *estimate.notes],
    )
    upper = estimate.upper_usd
    tight = [v for v in budget_left.values() if v is not None]
    if upper is not None and tight and upper > min(tight):
        result.warnings.append(
            f"a real call would be refused: it could cost up to ${upper:.4f} and the budget has ${min(tight):.4f} left"
        )
    return result


def running_result(call: Call, job: Job) -> ImageResult:
    """The answer for a call whose caller stopped waiting: status 'running', and the job to follow."""
    return _without_images(
        call,
        provider=job.provider,
        elapsed_s=round(job.elapsed_s, 3),
        status="running",
        job_id=job.id,
        cost_note="the call is still running; get_job(job_id) returns the images when it is done",
        warnings=[*call.options.warnings, *call.warnings],
    )


def cheaper_options(call: Call, left_usd: float) -> str:
    """Name variants of this call that fit in `left_usd`: lower quality, a smaller size, fewer images."""
    o = call.options
    variants: list[tuple[str, dict[str, Any]]] = []
    qualities = [q for q in ("low", "medium") if q != o.quality and (o.spec is None or q in o.spec.qualities)]
    variants += [(f"quality={q}", {"quality": q}) for q in qualities]
    if o.dimensions != SQUARE and o.spec is not None and o.spec.sizes.named_size("square"):
        variants.append(("size=square", {"dimensions": SQUARE}))
    if o.n > 1:
        variants.append(("n=1", {"n": 1}))
    fits: list[str] = []
    for label, change in variants:
        est = estimate_call(replace(o, **change), call.prompt, call.input_sizes)
        if est.upper_usd is not None and est.upper_usd <= left_usd:
            fits.append(f"{label} (up to ${est.upper_usd:.4f})")
    if fits:
        return "Cheaper options that fit: " + ", ".join(fits) + "."
    return "Wait for the budget period to roll over (UTC), or raise the limit."


def billed_cost(call: Call, error: ProviderError) -> float | None:
    """What a billed answer that could not be used cost, from its usage; the error says it too."""
    from easel_mcp.catalog.prices import cost_from_usage

    if not error.billed or error.usage is None:
        return None
    cost = cost_from_usage(call.model, error.usage)[0]
    if cost is not None:
        error.message = f"{error.message}; the call was billed ${cost:.4f}, and calling again is billed again"
    return cost
