"""In-memory fakes of the service's ports: a scripted provider, an image store, an index, a ledger and a
job store. No files, no network, no threads of their own: each records what the engine asked of it."""

from __future__ import annotations

import errno
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import anyio
from PIL import Image

from easel_mcp.budgets import Budgets
from easel_mcp.errors import BudgetExceeded
from easel_mcp.ledger_rows import Attempt
from easel_mcp.providers.base import EditRequest, GenerateRequest, ProviderResult
from easel_mcp.providers.openai import OpenAIProvider
from easel_mcp.schemas.jobs import JobView
from easel_mcp.schemas.results import ImageOut, ImageResult
from easel_mcp.service.call import Call
from easel_mcp.service.jobs import Job, JobBook

USAGE = {"input_tokens": 20, "output_tokens": 272, "input_tokens_details": {"text_tokens": 20, "image_tokens": 0}}


def png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def answer(count: int = 1, *, usage: dict[str, Any] | None = None) -> ProviderResult:
    return ProviderResult(
        images=[png() for _ in range(count)], output_format="png", usage=usage or USAGE, request_id="req_1"
    )


class FakeProvider:
    """Answers each request with the next scripted outcome (a ProviderResult, or an exception to raise).
    `hold()` makes it wait, after receiving a request, until `release()`."""

    name = "openai"
    profile: ClassVar = OpenAIProvider.profile

    def __init__(self, *outcomes: ProviderResult | Exception, partials: Sequence[bytes] = ()) -> None:
        self.outcomes = list(outcomes)
        self.partials = list(partials)
        self.received: list[GenerateRequest | EditRequest] = []
        self.entered = anyio.Event()
        self._gate: anyio.Event | None = None

    def hold(self) -> None:
        self._gate = anyio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def _answer(self, request: GenerateRequest | EditRequest) -> ProviderResult:
        self.received.append(request)
        self.entered.set()
        if self._gate is not None:
            await self._gate.wait()
        for index, data in enumerate(self.partials):
            if request.on_partial is not None:
                await request.on_partial(index, data)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def generate(self, request: GenerateRequest) -> ProviderResult:
        return await self._answer(request)

    async def edit(self, request: EditRequest) -> ProviderResult:
        return await self._answer(request)

    async def aclose(self) -> None:
        pass


@dataclass
class FakeProviders:
    fake: FakeProvider

    def provider(self, name: str) -> Any:
        return self.fake


@dataclass
class FakeStore:
    """Keeps images in a dict; `full_after` images fit before the 'disk' is full (ENOSPC)."""

    full_after: int | None = None
    images: dict[str, bytes] = field(default_factory=dict)
    partials: dict[str, bytes] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def location(self, user: str | None) -> str:
        return f"memory://{user or 'everyone'}"

    async def write_images(
        self,
        call: Call,
        answer: ProviderResult,
        images: list[bytes],
        elapsed_s: float,
        provider_name: str,
        saved: list[ImageOut],
    ) -> ImageResult:
        self.calls.append(call)
        for data in images:
            if self.full_after is not None and len(self.images) >= self.full_after:
                raise OSError(errno.ENOSPC, "No space left on device")
            key = f"images/{len(self.images) + 1}.png"
            self.images[key] = data
            saved.append(
                ImageOut(
                    id=f"{len(self.images):012x}",
                    path=f"{self.location(call.user)}/{key}",
                    relative_path=key,
                    uri=f"easel://images/{len(self.images):012x}",
                    width=8,
                    height=8,
                    format="png",
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        return ImageResult(
            images=list(saved),
            provider=provider_name,
            model=call.model,
            operation=call.operation,
            size=call.options.size,
            quality=call.options.quality,
            usage=answer.usage,
            cost_usd=0.01,
            estimated_cost_usd=call.estimate.total_usd,
            elapsed_s=round(elapsed_s, 3),
            request_id=answer.request_id,
        )

    async def write_partial(self, call: Call, index: int, data: bytes) -> str:
        key = f"partials/{call.label}-{index + 1}.png"
        self.partials[key] = data
        return key


@dataclass
class FakeIndex:
    noted: list[str] = field(default_factory=list)

    async def note_written(self, user: str | None, images: Sequence[ImageOut]) -> None:
        self.noted.extend(i.relative_path for i in images)


class FakeLedger:
    """Rows in a list; `left_usd` is what the budget leaves (None: no limit); `refuse_settles` settles fail first."""

    def __init__(self, left_usd: float | None = None, refuse_settles: int = 0) -> None:
        self.left_usd = left_usd
        self.refuse_settles = refuse_settles
        self.rows: list[dict[str, Any]] = []

    def begin(self, *, reserve_usd: float | None, budgets: Budgets, **fields: Any) -> Attempt:
        if self.left_usd is not None and (reserve_usd or 0.0) > self.left_usd:
            raise BudgetExceeded(
                f"this call could cost up to ${reserve_usd:.4f}; the budget has ${self.left_usd:.4f} left.",
                limit_usd=1.0,
                estimate_usd=reserve_usd or 0.0,
                left_usd=self.left_usd,
            )
        self.rows.append({"status": "reserved", "reserved_usd": reserve_usd, **fields})
        return Attempt(len(self.rows), datetime.now(UTC), fields.get("estimated_usd"), reserve_usd or 0.0)

    def mark_sent(self, attempt: Attempt) -> None:
        self.rows[attempt.id - 1]["status"] = "sent"

    def settle(self, attempt: Attempt, **fields: Any) -> None:
        if self.refuse_settles:
            self.refuse_settles -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        self.rows[attempt.id - 1].update(fields)

    def budget_left(
        self, budgets: Budgets, now: datetime | None = None, user: str | None = None
    ) -> dict[str, float | None]:
        return {"per_call": None, "today": self.left_usd, "this_month": None}


class FakeJobs(JobBook):
    """The in-memory job book, with an event for each job added (tests wait on it)."""

    def __init__(self, earlier: dict[str, JobView] | None = None) -> None:
        super().__init__()
        self.added = anyio.Event()
        self.earlier = earlier or {}

    def add(self, job: Job) -> None:
        super().add(job)
        self.added.set()

    async def find(self, job_id: str, user: str | None) -> JobView | None:
        return self.earlier.get(job_id)
