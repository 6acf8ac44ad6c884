"""Several engine streams as one, in arrival order; any one of them can be stopped early (aborted)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Merged(Generic[T]):
    """``async for i, item in merged.items()``; closing ``items()`` closes (aborts) every stream still open.

    One stream (every chat request) is read directly: no task, no queue on the hot path.
    """

    def __init__(self, streams: list[AsyncIterator[T]]) -> None:
        self._streams = streams
        self._tasks: list[asyncio.Future[None]] = []
        self._stopped: set[int] = set()

    def stop(self, i: int) -> None:
        """Abort stream ``i``; the others go on."""
        self._stopped.add(i)
        if self._tasks:
            self._tasks[i].cancel()

    async def items(self) -> AsyncIterator[tuple[int, T]]:
        if len(self._streams) == 1:
            async with aclosing(self._streams[0]) as stream:  # type: ignore[type-var]
                async for item in stream:
                    yield 0, item
                    if self._stopped:
                        return
            return
        queue: asyncio.Queue[tuple[int, object, BaseException | None]] = asyncio.Queue()
        self._tasks = [asyncio.ensure_future(_pump(i, s, queue)) for i, s in enumerate(self._streams)]
        for i, task in enumerate(self._tasks):
            task.add_done_callback(lambda _, i=i: queue.put_nowait((i, _DONE, None)))
        open_streams = len(self._tasks)
        try:
            while open_streams:
                i, item, error = await queue.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    open_streams -= 1
                    continue
                yield i, item  # type: ignore[misc]
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pump(
    i: int, stream: AsyncIterator[T], queue: asyncio.Queue[tuple[int, object, BaseException | None]]
) -> None:
    try:
        async with aclosing(stream):  # type: ignore[type-var]  # cancelling the pump aborts the stream
            async for item in stream:
                queue.put_nowait((i, item, None))
    except Exception as exc:
        queue.put_nowait((i, None, exc))
