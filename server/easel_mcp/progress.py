"""Progress stages (queued, sent, waiting, writing) reported through anything with MCP's
`report_progress(progress, total, message)`: a request Context, or a background Job whose
followers relay each stage to their clients at least every few seconds (see engine.Job.follow)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("easel_mcp")
_listener: ContextVar[Callable[[str], None] | None] = ContextVar("easel_progress_listener", default=None)


@contextlib.contextmanager
def listen(callback: Callable[[str], None]) -> Iterator[None]:
    """Also send every stage reported in this context (and tasks it starts) to `callback` (the CLI)."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


class Progress:
    def __init__(self, sink: Any | None) -> None:
        self._sink = sink
        self._step = 0
        self.stage = "queued"

    async def report(self, message: str) -> None:
        self.stage = message
        self._step += 1
        listener = _listener.get()
        if listener is not None:
            listener(message)
        if self._sink is None:
            return
        try:
            await self._sink.report_progress(self._step, None, message)
        except Exception as e:  # a client that cannot take progress must not fail the call
            log.debug("progress not delivered: %r", e)
