"""A blocking Queue for scripts: the same calls, run on an event loop of its own thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine, Iterator, List, Optional, TypeVar

from ._job import Job
from ._queue import Queue

T = TypeVar("T")


class SyncQueue:
    """``Queue`` without ``await``: ``q.put(item)``, ``job = q.get()``, ``q.task_done(job)``,
    ``q.join()``. Leased jobs are heartbeaten in the background, as with ``Queue``."""

    def __init__(self, name: str, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jobq", daemon=True)
        self._thread.start()

        async def make() -> Queue:
            return Queue(name, **options)

        self._queue = self._run(make())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> "SyncQueue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._queue.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def put(self, item: Any, **options: Any) -> int:
        return self._run(self._queue.put(item, **options))

    def put_many(self, items: List[Any], **options: Any) -> List[int]:
        return self._run(self._queue.put_many(items, **options))

    def get(self) -> Job:
        return self._run(self._queue.get())

    def get_nowait(self) -> Job:
        return self._run(self._queue.get_nowait())

    def task_done(self, job: Job, result: Any = None) -> None:
        self._run(self._queue.task_done(job, result))

    def fail(self, job: Job, error: str = "the consumer failed the job") -> None:
        self._run(self._queue.fail(job, error))

    def release(self, job: Job, delay: float = 0.0) -> None:
        self._run(self._queue.release(job, delay))

    def join(self, timeout: Optional[float] = None) -> bool:
        return self._run(self._queue.join(timeout))

    def __iter__(self) -> Iterator[Job]:
        while True:
            yield self.get()
