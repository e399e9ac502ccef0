"""asyncio.Queue's names and semantics over a durable jobq queue shared by many processes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

from ._errors import JobqError, LeaseLost, QueueEmpty, error_from
from ._job import Job
from ._transport import DEFAULT_RECONNECT, Transport

log = logging.getLogger("jobq")

#: The longest a lease request waits for work in one call (jobqd's bound).
LONGEST_WAIT = 30.0


class Queue:
    """A named payload queue of jobqd: `await put(item)`, `job = await get()`,
    `await task_done(job)`, `await join()`, as asyncio.Queue, but durable and shared by every
    process on the machine. Delivery is at least once: a job whose consumer dies (or whose lease
    expires) is leased again, so the work must be safe to repeat.

    Leases last `lease` seconds; a job from `get()` or from `async for` is kept leased by a
    background heartbeat (every third of the lease) until task_done, fail or release.
    """

    def __init__(self, name: str, *, socket: Optional[str] = None, lease: float = 60.0,
                 consumer: Optional[str] = None, reconnect: float = DEFAULT_RECONNECT) -> None:
        self.name = name
        self.lease_seconds = lease
        self.consumer = consumer
        self._transport = Transport(socket, reconnect)

    async def __aenter__(self) -> "Queue":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    # Producers

    async def put(self, item: Any, *, priority: int = 0, delay: Optional[float] = None, retries: int = 0,
                  backoff: float = 1.0, key: Optional[str] = None, label: Optional[str] = None) -> int:
        """Stores `item` (any JSON value but None) as a job and returns its id once it is durable.
        `retries`: how often a failed attempt (a fail, an expired lease) is tried again, after
        `backoff` seconds doubling; `key`: an idempotency key (a live job with it is returned)."""
        answer = await self._transport.call("POST", "/v1/jobs", self._spec(item, priority, delay, retries, backoff, key, label))
        return int(answer["jobs"][0]["id"])

    async def put_many(self, items: List[Any], *, priority: int = 0, retries: int = 0, backoff: float = 1.0) -> List[int]:
        """Stores every item as a job, all or none, in one request; returns their ids."""
        specs = [self._spec(item, priority, None, retries, backoff, None, None) for item in items]
        answer = await self._transport.call("POST", "/v1/jobs", {"jobs": specs})
        return [int(job["id"]) for job in answer["jobs"]]

    def _spec(self, item: Any, priority: int, delay: Optional[float], retries: int, backoff: float,
              key: Optional[str], label: Optional[str]) -> Dict[str, Any]:
        if item is None:
            raise ValueError("a payload is a JSON value other than None (null)")
        spec: Dict[str, Any] = {"queue": self.name, "payload": item, "priority": priority}
        if retries:
            spec["retry"] = {"max_attempts": retries + 1, "backoff_seconds": backoff}
        if delay:
            from datetime import datetime, timedelta, timezone
            at = datetime.now(timezone.utc) + timedelta(seconds=delay)
            spec["run_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        if key is not None:
            spec["idempotency_key"] = key
        if label is not None:
            spec["label"] = label
        return spec

    # Consumers

    async def lease(self, max: int = 1, wait: float = 0.0) -> List[Job]:
        """Leases up to `max` ready jobs, waiting up to `wait` seconds (at most 30) for one;
        each comes with its heartbeat running."""
        jobs, _ = await self._lease(max, wait, [])
        return jobs

    async def _lease(self, max: int, wait: float, done: List[Tuple[Job, Any]]) -> Tuple[List[Job], List[Optional[JobqError]]]:
        """A lease that first completes the `done` jobs (with their results) in the same request."""
        body: Dict[str, Any] = {"max": max, "wait_seconds": min(wait, LONGEST_WAIT), "lease_seconds": self.lease_seconds}
        if self.consumer:
            body["consumer"] = self.consumer
        if done:
            body["complete"] = [_completion(job, result) for job, result in done]
        answer = await self._transport.call("POST", f"/v1/queues/{self.name}/lease", body)
        jobs = [Job.from_api(raw) for raw in answer["jobs"]]
        for job in jobs:
            job._heartbeat = asyncio.ensure_future(self._keep(job))
        return jobs, [_outcome(outcome) for outcome in answer.get("completed", [])]

    async def get(self) -> Job:
        """Waits until a job is ready and leases it (cancellable: a job leased as the caller is
        cancelled goes back to the queue)."""
        return await self._get([])

    async def _get(self, done: List[Tuple[Job, Any]]) -> Job:
        while True:
            jobs, outcomes = await self._lease(1, LONGEST_WAIT, done)
            for (job, _), outcome in zip(done, outcomes):
                if outcome is not None:
                    log.warning("job %s: %s", job.id, outcome)
            done = []
            if jobs:
                return jobs[0]

    async def get_nowait(self) -> Job:
        """Leases a ready job, or raises QueueEmpty."""
        jobs = await self.lease(1, 0.0)
        if not jobs:
            raise QueueEmpty()
        return jobs[0]

    async def task_done(self, job: Job, result: Any = None) -> None:
        """The job succeeded (with an optional small JSON `result`, kept with it). Raises
        LeaseLost when the lease was lost meanwhile; done twice, it is done once."""
        job._stop_heartbeat()
        body = {} if result is None else {"result": result}
        await self._transport.call("POST", f"/v1/leases/{job.token}/complete", body)

    async def task_done_many(self, jobs: List[Job], results: Optional[List[Any]] = None) -> List[Optional[JobqError]]:
        """Completes many jobs in one request and one transaction (a batch from `lease(max=N)`);
        for each job, None or the error it alone got (LeaseLost for a lost lease)."""
        for job in jobs:
            job._stop_heartbeat()
        items = [_completion(job, None if results is None else results[index]) for index, job in enumerate(jobs)]
        answer = await self._transport.call("POST", "/v1/leases/complete", {"leases": items})
        return [_outcome(outcome) for outcome in answer["results"]]

    async def fail(self, job: Job, error: str = "the consumer failed the job") -> None:
        """The attempt failed: the job runs again after its backoff if it has retries left."""
        job._stop_heartbeat()
        await self._transport.call("POST", f"/v1/leases/{job.token}/fail", {"error": error[:4096] or "failed"})

    async def release(self, job: Job, delay: float = 0.0) -> None:
        """Gives the job back (leased again after `delay` seconds); the attempt does not count."""
        job._stop_heartbeat()
        await self._transport.call("POST", f"/v1/leases/{job.token}/release", {"delay_seconds": delay})

    async def heartbeat(self, job: Job) -> None:
        """Extends the lease now (the background heartbeat does it every third of the lease)."""
        answer = await self._transport.call("POST", f"/v1/leases/{job.token}/heartbeat", {"lease_seconds": self.lease_seconds})
        job.expires_at = answer["lease"]["expires_at"]

    async def _keep(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.heartbeat(job)
            except LeaseLost as lost:
                job.lost = lost
                return
            except JobqError as error:
                log.warning("job %s: heartbeat refused: %s", job.id, error)

    async def join(self, timeout: Optional[float] = None) -> bool:
        """Waits until no job of the queue is queued, blocked or running; False at the timeout."""
        body = {} if timeout is None else {"timeout_seconds": timeout}
        answer = await self._transport.call("POST", f"/v1/queues/{self.name}/join", body)
        return bool(answer["done"])

    def __aiter__(self) -> AsyncIterator[Job]:
        return self._jobs()

    async def _jobs(self) -> AsyncIterator[Job]:
        while True:
            yield await self.get()

    async def consume(self, handler: Callable[[Any], Awaitable[Any]], *, concurrency: int = 1,
                      stop: Optional[asyncio.Event] = None) -> None:
        """Runs `handler(payload)` for each job, `concurrency` at once, until `stop` is set (or
        forever): its return value completes the job, an exception fails the attempt, and a
        cancel heard at a heartbeat cancels the handler."""
        stop = stop or asyncio.Event()

        async def worker() -> None:
            # A finished job's completion rides on the next lease request: one round trip a job.
            done: List[Tuple[Job, Any]] = []
            while not stop.is_set():
                getter = asyncio.ensure_future(self._get(done))
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
                    try:
                        await getter
                    except asyncio.CancelledError:
                        pass
                    break
                done = []
                job = getter.result()
                finished = await self._run(handler, job)
                if finished is not None:
                    done = [(job, finished[0])]
            for job, result in done:  # completing again what a cancelled lease carried is harmless
                try:
                    await self.task_done(job, result)
                except LeaseLost as lost:
                    log.warning("job %s: %s", job.id, lost)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def _run(self, handler: Callable[[Any], Awaitable[Any]], job: Job) -> Optional[Tuple[Any]]:
        """Runs the handler for `job`: its result (in a 1-tuple) to complete the job with, or
        None when the attempt failed (reported here) or the lease was lost."""
        work = asyncio.ensure_future(handler(job.payload))
        while not work.done():
            await asyncio.wait({work}, timeout=self.lease_seconds / 3)
            if job.lost is not None and not work.done():
                work.cancel()
        try:
            result = work.result()
        except asyncio.CancelledError:
            log.warning("job %s: %s; its handler was cancelled", job.id, job.lost)
            return None
        except Exception as error:  # the handler's failure is the attempt's
            try:
                await self.fail(job, f"{type(error).__name__}: {error}")
            except LeaseLost as lost:
                log.warning("job %s: %s", job.id, lost)
            return None
        job._stop_heartbeat()
        return (result,)


def _completion(job: Job, result: Any) -> Dict[str, Any]:
    item: Dict[str, Any] = {"token": job.token}
    if result is not None:
        item["result"] = result
    return item


def _outcome(outcome: Dict[str, Any]) -> Optional[JobqError]:
    error = outcome.get("error")
    if error is None:
        return None
    return error_from(409 if error["code"] == "lease_lost" else 404, {"error": error})
