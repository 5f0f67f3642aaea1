"""Progress notifications while a call waits on the model, so hosts that reset their timeout on
progress keep the call alive (Claude Desktop drops silent calls at about 60 s)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

log = logging.getLogger("easel_mcp")
HEARTBEAT_S = 4.0
T = TypeVar("T")


class Progress:
    """Reports stages (queued, sent, waiting, writing) through an MCP Context, if there is one."""

    def __init__(self, ctx: Any | None) -> None:
        self._ctx = ctx
        self._step = 0
        self._started = time.monotonic()
        self.stage = "queued"

    async def report(self, message: str) -> None:
        self.stage = message
        self._step += 1
        if self._ctx is None:
            return
        try:
            await self._ctx.report_progress(self._step, None, message)
        except Exception as e:  # a client that cannot take progress must not fail the call
            log.debug("progress not delivered: %r", e)

    async def waiting(self, fn: Callable[[], Awaitable[T]], what: str = "waiting for the model") -> T:
        """Run `fn`, sending '<what> (N s)' every few seconds until it returns.

        The exception of `fn` is re-raised as it is (not wrapped in an exception group)."""
        result: list[T] = []
        error: list[Exception] = []

        async with anyio.create_task_group() as tg:

            async def main() -> None:
                try:
                    result.append(await fn())
                except Exception as e:
                    error.append(e)
                finally:
                    tg.cancel_scope.cancel()

            async def beat() -> None:
                start = time.monotonic()
                while True:
                    await anyio.sleep(HEARTBEAT_S)
                    await self.report(f"{what} ({time.monotonic() - start:.0f} s)")

            tg.start_soon(beat)
            tg.start_soon(main)
        if error:
            raise error[0]
        return result[0]
