"""The service against in-memory fakes of its ports: the engine's promises (a paid image is never lost, a
budget is never overrun, a reservation bounds the bill, every attempt is settled) without files, SQLite,
MCP or a network. Each test waits on events the fakes set, never on the clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio
import pytest

from easel_mcp.budgets import Budgets
from easel_mcp.catalog.validate import resolve_options
from easel_mcp.errors import AnswerNotSaved, BudgetExceeded, EaselError, ProviderError, UpstreamUnavailable
from easel_mcp.imaging.errors import ImagingError
from easel_mcp.progress import Progress
from easel_mcp.retry import RetryPolicy
from easel_mcp.service import settling
from easel_mcp.service.call import Call, new_call
from easel_mcp.service.engine import Engine
from easel_mcp.service.results import cheaper_options
from tests.service.fakes import (
    USAGE,
    FakeIndex,
    FakeJobs,
    FakeLedger,
    FakeProvider,
    FakeProviders,
    FakeStore,
    answer,
    png,
)

pytestmark = pytest.mark.anyio
MODEL = "gpt-image-1.5"


def make_call(n: int = 1, quality: str = "high", **options: Any) -> Call:
    resolved = resolve_options(
        "generate",
        model=MODEL,
        provider="openai",
        prompt="a red fox",
        size="1536x1024",
        quality=quality,
        n=n,
        **options,
    )
    return new_call("generate", "a red fox", resolved, "openai", "red fox")


class Rig:
    """An engine on fakes, and the fakes to look at afterwards."""

    def __init__(
        self,
        provider: FakeProvider,
        *,
        store: FakeStore | None = None,
        ledger: FakeLedger | None = None,
        max_concurrency: int = 4,
    ) -> None:
        self.provider = provider
        self.store = store or FakeStore()
        self.index = FakeIndex()
        self.ledger = ledger or FakeLedger()
        self.jobs = FakeJobs()
        self.engine = Engine(
            providers=FakeProviders(provider),
            store=self.store,
            index=self.index,
            ledger=self.ledger,  # type: ignore[arg-type]  # the part of LedgerPort the engine uses
            budgets=Budgets(daily_usd=1.0),
            jobs=self.jobs,
            max_concurrency=max_concurrency,
            policy=RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0),
        )

    async def run(self, call: Call, **kw: Any) -> Any:
        return await self.engine.run(call, progress=Progress(None), **kw)


async def test_a_call_that_succeeds_writes_every_image_notes_them_and_settles_ok() -> None:
    rig = Rig(FakeProvider(answer(2)))
    result = await rig.run(make_call(n=2))
    assert [i.relative_path for i in result.images] == ["images/1.png", "images/2.png"]
    assert rig.index.noted == ["images/1.png", "images/2.png"]
    [row] = rig.ledger.rows
    assert row["status"] == "ok" and row["billed"] is True and row["outputs"] == ["images/1.png", "images/2.png"]
    assert row["job_id"] == result.job_id and result.attempts == 1


async def test_the_call_is_never_changed_the_store_sees_a_copy_with_the_job_id() -> None:
    rig = Rig(FakeProvider(answer()))
    call = make_call()
    result = await rig.run(call)
    [written] = rig.store.calls
    assert call.job_id is None and "job_id" not in call.extra
    assert written.job_id == result.job_id and written.extra["job_id"] == result.job_id
    assert written.request is call.request  # built once, with the call


async def test_the_provider_request_is_built_once_from_the_call() -> None:
    call = make_call(n=3, quality="low", output_format="webp", output_compression=70)
    request = call.request
    assert (request.model, request.size, request.quality, request.n) == (MODEL, "1536x1024", "low", 3)
    assert (request.output_format, request.output_compression) == ("webp", 70)
    assert call.estimate.total_usd is not None and call.estimate.upper_usd is not None
    retouch = new_call(
        "inpaint", "sky", call.options, "openai", "sky", mask=b"mask", wire_format="png", input_sizes=[(1024, 1024)]
    )
    edit = retouch.request
    assert type(edit).__name__ == "EditRequest"
    assert (edit.output_format, edit.output_compression, edit.mask) == ("png", None, b"mask")  # type: ignore[union-attr]


async def test_a_billed_answer_the_store_cannot_write_settles_with_its_cost_and_says_so() -> None:
    rig = Rig(FakeProvider(answer()), store=FakeStore(full_after=0))
    with pytest.raises(AnswerNotSaved) as caught:
        await rig.run(make_call())
    [row] = rig.ledger.rows
    assert row["status"] == "error" and row["billed"] is True and row["cost_usd"] and row["cost_usd"] > 0
    assert row["usage"] == USAGE and row["request_id"] == "req_1"
    message = str(caught.value)
    assert "memory://everyone is full" in message and "billed $" in message and "req_1" in message


async def test_images_stored_before_the_store_failed_are_named_and_recorded() -> None:
    rig = Rig(FakeProvider(answer(3)), store=FakeStore(full_after=1))
    with pytest.raises(AnswerNotSaved) as caught:
        await rig.run(make_call(n=3))
    assert len(caught.value.saved) == 1 and "images/1.png" in str(caught.value)
    assert rig.ledger.rows[0]["outputs"] == ["images/1.png"]


async def test_an_answer_that_does_not_decode_is_settled_as_billed_and_nothing_is_stored() -> None:
    broken = answer()
    broken.images = [b"not an image"]
    rig = Rig(FakeProvider(broken))
    with pytest.raises(AnswerNotSaved, match="could not be used"):
        await rig.run(make_call())
    assert rig.store.images == {} and rig.ledger.rows[0]["billed"] is True


async def test_a_budget_refusal_names_cheaper_options_and_sends_nothing() -> None:
    call = make_call(n=2)
    assert call.estimate.upper_usd is not None
    rig = Rig(FakeProvider(), ledger=FakeLedger(left_usd=call.estimate.upper_usd / 4))
    with pytest.raises(BudgetExceeded) as caught:
        await rig.run(call)
    assert "Cheaper options that fit:" in str(caught.value) and "quality=low" in str(caught.value)
    assert rig.provider.received == [] and rig.ledger.rows == []


async def test_cheaper_options_says_to_wait_when_nothing_fits() -> None:
    assert cheaper_options(make_call(), 0.0) == "Wait for the budget period to roll over (UTC), or raise the limit."


async def test_a_dry_run_sends_nothing_and_warns_when_the_budget_would_refuse() -> None:
    rig = Rig(FakeProvider(), ledger=FakeLedger(left_usd=0.0001))
    result = await rig.run(make_call(), dry_run=True)
    assert result.dry_run and result.images == [] and rig.ledger.rows == [] and rig.provider.received == []
    assert any("a real call would be refused" in w for w in result.warnings)


async def test_a_call_cancelled_while_queued_is_never_sent_nor_billed() -> None:
    provider = FakeProvider(answer())
    provider.hold()
    rig = Rig(provider, max_concurrency=1)
    outcomes: list[Any] = []

    async def call_and_keep() -> None:
        try:
            outcomes.append(await rig.run(make_call()))
        except EaselError as e:
            outcomes.append(e)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call_and_keep)
        await provider.entered.wait()  # the first call holds the only slot
        rig.jobs.added = anyio.Event()
        tg.start_soon(call_and_keep)
        await rig.jobs.added.wait()
        second = rig.jobs.values()[-1]
        while not second.stage.startswith("queued: "):
            await second._changed.wait()
        rig.engine.cancel(second)
        await second.done.wait()
        provider.release()
    assert second.status == "cancelled" and not second.sent
    cancelled = next(r for r in rig.ledger.rows if r["job_id"] == second.id)
    assert cancelled["status"] == "cancelled" and cancelled["billed"] is False
    assert len(provider.received) == 1 and sum(isinstance(o, EaselError) for o in outcomes) == 1


async def test_a_transient_failure_is_retried_and_each_attempt_is_settled() -> None:
    flaky = UpstreamUnavailable("the upstream answered 503", provider="openai", status=503)
    rig = Rig(FakeProvider(flaky, answer()))
    result = await rig.run(make_call())
    assert result.attempts == 2 and len(rig.provider.received) == 2
    first, second = rig.ledger.rows
    assert (first["status"], first["billed"], first["error_code"]) == ("error", False, "UpstreamUnavailable")
    assert (second["status"], second["billed"]) == ("ok", True)
    assert first["job_id"] == second["job_id"] == result.job_id


async def test_a_billed_failure_is_not_retried_and_is_settled_with_its_cost() -> None:
    billed = ProviderError("the answer was cut short", provider="openai", status=200, billed=True, usage=USAGE)
    rig = Rig(FakeProvider(billed, answer()))
    with pytest.raises(ProviderError, match="billed \\$"):
        await rig.run(make_call())
    [row] = rig.ledger.rows
    assert row["status"] == "error" and row["billed"] is True and row["cost_usd"] > 0
    assert len(rig.provider.received) == 1


async def test_an_outcome_the_ledger_refuses_is_kept_warned_about_and_written_at_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settling, "RETRY_DELAYS_S", (0.0,))
    rig = Rig(FakeProvider(answer()), ledger=FakeLedger(refuse_settles=2))
    result = await rig.run(make_call())
    assert any("could not record this call yet" in w for w in result.warnings)
    assert rig.ledger.rows[0]["status"] == "sent" and len(rig.engine.settler.pending) == 1
    await rig.engine.shutdown()
    assert rig.ledger.rows[0]["status"] == "ok" and rig.engine.settler.pending == []


async def test_partial_images_go_to_the_store_and_are_listed_in_the_result() -> None:
    rig = Rig(FakeProvider(answer(), partials=[png(), b"not an image"]))
    result = await rig.run(make_call(partial_images=2))
    assert result.partials == ["partials/red fox-1.png", "partials/red fox-2.png"]
    assert len(rig.store.images) == 1  # partials are kept apart from the final images


async def test_wait_false_answers_running_at_once_and_the_job_finishes_in_the_task_group() -> None:
    provider = FakeProvider(answer())
    provider.hold()
    rig = Rig(provider)
    async with anyio.create_task_group() as tg:
        rig.engine.start(tg)
        running = await rig.run(make_call(), wait=False)
        assert running.status == "running" and running.images == [] and running.job_id
        job = rig.engine.jobs.get(running.job_id)
        assert job is not None and not job.done.is_set()
        provider.release()
        await job.done.wait()
    assert job.status == "done" and job.result is not None and len(job.result.images) == 1


async def test_a_server_shutting_down_sends_nothing_and_bills_nothing() -> None:
    rig = Rig(FakeProvider(answer()))
    await rig.engine.shutdown()
    with pytest.raises(EaselError, match="shutting down"):
        await rig.run(make_call())
    assert rig.provider.received == [] and rig.ledger.rows[0]["billed"] is False


async def test_the_sidecar_extras_are_the_mask_facts_and_the_job_id_of_a_copy() -> None:
    call = replace(make_call(), mask_facts={"mask": {"convention": "white"}})
    assert call.extra == {"mask": {"convention": "white"}}
    assert replace(call, job_id="abc").extra == {"mask": {"convention": "white"}, "job_id": "abc"}


async def test_the_pixel_layers_errors_are_easel_errors() -> None:
    assert issubclass(ImagingError, EaselError)  # one boundary (tools/common.tool_errors) catches them all


def test_the_answer_s_decode_check_cuts_each_good_image_s_preview() -> None:
    """One decode per image: the pixels the check decodes are cut to preview size there, so shaping the result
    only encodes them (it never reads the file back or decodes it again)."""
    large, small = png(1024, 768), png()
    checked = settling.usable_images([large, b"not an image", small])
    assert checked.images == [large, small] and len(checked.notes) == 1
    sizes = [source.image.size if source else None for source in checked.previews]
    assert sizes == [(512, 384), (8, 8)]
    assert all(source and source.fmt == "jpeg" for source in checked.previews)
