"""Settling ledger rows, and saving an answer the upstream billed.

Every answered attempt settles its row with the usage, the cost and the request id, whether its images
could be saved or not; the agent then gets either the result or an error that says what the call cost,
its request id and which images were saved. A settle that fails (a full disk, a locked database) is
retried, then kept and retried at the next settle and at shut-down; a crash before that leaves the row
to start-up recovery (from the sidecars) - it is never dropped.
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread

from easel_mcp.budgets import utc
from easel_mcp.errors import AnswerNotSaved, EaselError, ProviderError
from easel_mcp.service.previews import keep_previews

if TYPE_CHECKING:
    from easel_mcp.imaging.preview import PreviewSource
    from easel_mcp.ledger import Attempt
    from easel_mcp.progress import Progress
    from easel_mcp.providers.base import ProviderResult
    from easel_mcp.schemas.results import ImageOut, ImageResult
    from easel_mcp.service.call import Call
    from easel_mcp.service.ports import ImageIndex, OutputStore
    from easel_mcp.storage.ports import LedgerPort

log = logging.getLogger("easel_mcp")
RETRY_DELAYS_S = (0.1, 0.5, 1.5)
Status = Literal["ok", "error", "cancelled"]


@dataclass
class _Pending:
    attempt: Attempt
    fields: dict[str, Any]
    at: datetime


class Settler:
    """Writes outcomes into the ledger; keeps the ones it could not write and tries them again."""

    def __init__(self, ledger: LedgerPort) -> None:
        self.ledger = ledger
        self.pending: list[_Pending] = []

    async def settle(
        self,
        attempt: Attempt,
        status: Status,
        *,
        billed: bool | None,
        elapsed: float,
        error: EaselError | None = None,
        outcome: ImageResult | None = None,
        answer: ProviderResult | None = None,
        cost_usd: float | None = None,
        outputs: list[str] | None = None,
    ) -> bool:
        """Record an attempt's outcome; False when the ledger could not take it yet (it is kept and
        retried). `answer` is what the upstream sent when no result could be built from it."""
        fields: dict[str, Any] = {"status": status, "billed": billed, "elapsed_s": round(elapsed, 3)}
        if outcome is not None:
            fields.update(
                cost_usd=None if outcome.cost_is_estimate else outcome.cost_usd,
                usage=outcome.usage,
                request_id=outcome.request_id,
                outputs=[i.relative_path for i in outcome.images],
            )
        elif answer is not None:
            fields.update(cost_usd=cost_usd, usage=answer.usage, request_id=answer.request_id, outputs=outputs or [])
        else:
            known = error if isinstance(error, ProviderError) else None
            usage = known.usage if known is not None else None
            fields.update(cost_usd=cost_usd, usage=usage, request_id=known.request_id if known else None)
        if error is not None:
            code = (error.code if isinstance(error, ProviderError) else None) or type(error).__name__
            fields.update(error_code=code, error_message=error.message[:500])
        await self.flush()
        item = _Pending(attempt, fields, utc())
        if await self._write(item, retries=RETRY_DELAYS_S):
            return True
        self.pending.append(item)
        return False

    async def flush(self) -> None:
        """Try the outcomes that could not be written earlier again (each once)."""
        for item in list(self.pending):
            # another job's flush may have written it meanwhile: check before and after
            if item in self.pending and await self._write(item, retries=()) and item in self.pending:
                self.pending.remove(item)

    async def _write(self, item: _Pending, *, retries: tuple[float, ...]) -> bool:
        for delay in (0.0, *retries):
            if delay:
                await anyio.sleep(delay)
            try:
                await anyio.to_thread.run_sync(lambda: self.ledger.settle(item.attempt, **item.fields, now=item.at))
                return True
            except Exception as e:  # the ledger must never lose the outcome: keep it and say so
                failure = e
        log.error(
            "could not record ledger row %d (%s: %s); Easel tries again later, and start-up recovery "
            "settles it if the process ends first",
            item.attempt.id,
            type(failure).__name__,
            failure,
        )
        return False


def not_recorded_warning(attempt: Attempt) -> str:
    return (
        f"the ledger could not record this call yet (row {attempt.id}; a full disk, or its database away): Easel "
        "tries again, and recovers it from the sidecars at the next start should it stop first"
    )


def not_saved_error(
    location: str,
    cause: BaseException,
    answer: ProviderResult,
    cost_usd: float | None,
    estimate_usd: float | None,
    saved: list[ImageOut],
) -> AnswerNotSaved:
    """The agent's error for an answer that was billed but could not (all) be saved."""
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        what = (
            f"the disk holding the workspace {location} is full ({cause.strerror}); free some space "
            "before calling again"
        )
    elif isinstance(cause, OSError):
        what = f"writing to the workspace {location} failed ({cause.strerror or cause}); fix that first"
    elif isinstance(cause, EaselError | ValueError):
        what = f"the model's answer could not be used: {cause}"
    else:
        what = "Easel failed while saving the model's answer (the server log has details)"
    if not answer.ai_generated:
        cost = "nothing was billed (offline provider)"
    elif cost_usd is not None:
        cost = f"the call was billed ${cost_usd:.4f}"
    elif estimate_usd is not None:
        cost = f"the call was billed (about ${estimate_usd:.4f}, estimated)"
    else:
        cost = "the call was billed"
    rid = f" (request id {answer.request_id})" if answer.request_id else ""
    again = "; calling again is billed again" if answer.ai_generated else ""
    kept = ""
    if saved:
        kept = " Saved before the failure: " + ", ".join(f"{i.id} ({i.relative_path})" for i in saved) + "."
    return AnswerNotSaved(
        f"{what.rstrip('.')}. {cost[:1].upper()}{cost[1:]}{rid}{again}.{kept}",
        request_id=answer.request_id,
        cost_usd=cost_usd,
        saved=[i.id for i in saved],
    )


async def save_answer(
    store: OutputStore,
    index: ImageIndex,
    settler: Settler,
    attempt: Attempt,
    call: Call,
    result: ProviderResult,
    started: float,
    provider_name: str,
    progress: Progress,
) -> ImageResult:
    """Write the answer and settle its row. An answer that cannot be saved (undecodable, a full disk)
    still settles with its usage, cost and request id, and the error says so (and what was saved)."""
    from easel_mcp.catalog.prices import cost_from_usage

    saved: list[ImageOut] = []
    try:
        outcome = await _write(store, call, result, started, provider_name, progress, saved)
    except Exception as e:  # settled either way; the error says what it cost and what was kept
        if not isinstance(e, EaselError | OSError):
            log.exception("could not save the answer of ledger row %d", attempt.id)
        cost = cost_from_usage(call.model, result.usage)[0] if result.ai_generated else 0.0
        error = not_saved_error(store.location(call.user), e, result, cost, call.estimate.total_usd, saved)
        await settler.settle(
            attempt,
            "error",
            billed=result.ai_generated,
            elapsed=time.monotonic() - started,
            error=error,
            answer=result,
            cost_usd=cost,
            outputs=[i.relative_path for i in saved],
        )
        raise error from e

    async def note() -> None:  # the index is a cache: it never fails (nor cancels the settle of) a paid call
        try:
            await index.note_written(call.user, outcome.images)
        except Exception:
            log.exception("could not add the new images to the index")

    async with anyio.create_task_group() as tg:  # the index beside the settle, not after it
        tg.start_soon(note)
        recorded = await settler.settle(
            attempt, "ok", billed=result.ai_generated, outcome=outcome, elapsed=outcome.elapsed_s
        )
    if not recorded:
        outcome.warnings.append(not_recorded_warning(attempt))
    return outcome


async def _write(
    store: OutputStore,
    call: Call,
    result: ProviderResult,
    started: float,
    provider_name: str,
    progress: Progress,
    saved: list[ImageOut],
) -> ImageResult:
    """Decode the answer in full, post-process it and write every image and its sidecar (in worker
    threads); images that do not decode are left out with a warning (all of them: ImagingError)."""
    await progress.report("writing")
    checked = await anyio.to_thread.run_sync(usable_images, result.images)
    result.notes.extend(checked.notes)
    images, sources = checked.images, checked.previews
    if call.finish is not None:  # new pixels: their previews come from the files
        images = await anyio.to_thread.run_sync(call.finish, images)
        sources = [None] * len(images)
    outcome = await store.write_images(call, result, images, time.monotonic() - started, provider_name, saved)
    keep_previews(outcome.images, sources)
    return outcome


@dataclass(frozen=True)
class Checked:
    """The answer's images that decode in full, a preview cut from each while its pixels were at hand,
    and a note per image that did not decode."""

    images: list[bytes]
    previews: list[PreviewSource | None]
    notes: list[str]


def usable_images(images: list[bytes]) -> Checked:
    """The answer's images whose every pixel decodes (an accepted format, within the limits), and a
    note for each one that does not. Raises the first image's ImagingError when none does."""
    from easel_mcp.imaging.errors import ImagingError
    from easel_mcp.imaging.io import decode_checked
    from easel_mcp.imaging.preview import preview_source

    good: list[bytes] = []
    sources: list[PreviewSource | None] = []
    notes: list[str] = []
    first: ImagingError | None = None
    for number, data in enumerate(images, start=1):
        try:
            _, img = decode_checked(data, what=f"image {number} of the model's answer")
        except ImagingError as e:
            first = first or e
            notes.append(f"{e} It was not saved (the call was billed for it).")
            continue
        good.append(data)
        try:
            sources.append(preview_source(img))  # the decoded pixels, cut now: the preview only encodes
        except ImagingError:  # the result shows no preview of it, or makes one from the file
            sources.append(None)
        finally:
            img.close()
    if not good and first is not None:
        raise first
    return Checked(good, sources, notes)
