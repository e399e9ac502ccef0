"""The client against the real jobqd: asyncio.Queue's calls, leases, failures, a cancel heard at
a heartbeat, a restart of jobqd under a held lease, and the blocking wrapper."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import jobq


def api(daemon, method: str, path: str, body=None):
    with httpx.Client(transport=httpx.HTTPTransport(uds=daemon.socket), base_url="http://jobqd") as client:
        return client.request(method, path, json=body)


def test_put_get_task_done_join(daemon):
    async def main():
        async with jobq.Queue("mail", socket=daemon.socket, consumer="test") as q:
            ids = [await q.put({"n": n}) for n in range(3)]
            assert await q.put_many(["a", "b"]) == [ids[-1] + 1, ids[-1] + 2]
            assert await q.join(timeout=0) is False
            seen = []
            for _ in range(5):
                job = await q.get()
                assert job.attempt == 1 and job.token == f"{job.id}.1" and job.queue == "mail"
                seen.append(job.payload)
                await q.task_done(job, result={"ok": job.id})
                await q.task_done(job, result={"ok": job.id})  # done twice is done once
            assert seen == [{"n": 0}, {"n": 1}, {"n": 2}, "a", "b"]
            assert await q.join() is True
            with pytest.raises(jobq.QueueEmpty):
                await q.get_nowait()
            return ids

    ids = asyncio.run(main())
    shown = api(daemon, "GET", f"/v1/jobs/{ids[0]}").json()
    assert shown["state"] == "succeeded" and shown["result"] == {"ok": ids[0]} and shown["consumer"] == "test"


def test_a_batch_leased_and_completed_together(daemon):
    async def main():
        async with jobq.Queue("batch", socket=daemon.socket) as q:
            await q.put_many(list(range(5)))
            jobs = await q.lease(max=10)
            assert [job.payload for job in jobs] == [0, 1, 2, 3, 4]
            await q.release(jobs[4])
            outcomes = await q.task_done_many(jobs, results=[n * 10 for n in range(5)])
            assert outcomes[:4] == [None] * 4 and isinstance(outcomes[4], jobq.LeaseLost)
            assert (await q.get()).payload == 4

    asyncio.run(main())


def test_get_waits_for_a_put(daemon):
    async def main():
        async with jobq.Queue("news", socket=daemon.socket) as consumer, jobq.Queue("news", socket=daemon.socket) as producer:
            getter = asyncio.ensure_future(consumer.get())
            await asyncio.sleep(0)  # the getter is under way: it waits in jobqd, not here
            job_id = await producer.put("hello")
            job = await getter
            assert (job.id, job.payload) == (job_id, "hello")
            await consumer.task_done(job)
            # A get cancelled while it waits leaves nothing leased.
            waiting = asyncio.ensure_future(consumer.get())
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            later = await producer.put("later")
            again = await consumer.get()
            assert again.id == later and again.attempt == 1

    asyncio.run(main())


def test_fail_retries_then_fails_release_does_not_count(daemon):
    async def main():
        async with jobq.Queue("flaky", socket=daemon.socket) as q:
            job_id = await q.put("x", retries=1, backoff=0)
            job = await q.get()
            await q.release(job)
            job = await q.get()
            assert job.attempt == 1 and job.token == f"{job_id}.2"
            await q.fail(job, "first try")
            job = await q.get()
            assert job.attempt == 2
            await q.fail(job, "second try")
            with pytest.raises(jobq.LeaseLost):
                await q.task_done(job)
            return job_id

    job_id = asyncio.run(main())
    shown = api(daemon, "GET", f"/v1/jobs/{job_id}").json()
    assert shown["state"] == "failed" and shown["error"] == "second try"


def test_a_cancel_is_heard_at_the_heartbeat_and_cancels_the_handler(daemon):
    async def main():
        async with jobq.Queue("slow", socket=daemon.socket, lease=1.5) as q:
            job_id = await q.put("x")
            started, cancelled, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

            async def handler(item):
                started.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.set()
                    stop.set()
                    raise

            consuming = asyncio.ensure_future(q.consume(handler, stop=stop))
            await started.wait()
            assert api(daemon, "POST", f"/v1/jobs/{job_id}/cancel").status_code == 200
            await cancelled.wait()
            await consuming

    asyncio.run(main())


def test_a_lease_outlasts_a_restart_of_jobqd(daemon):
    async def main():
        async with jobq.Queue("mail", socket=daemon.socket, lease=30) as q:
            await q.put("durable")
            job = await q.get()
            daemon.kill9()
            daemon.start()
            await q.task_done(job, result="after the restart")
            assert await q.join() is True

    asyncio.run(main())


def test_wrong_queue_kind_and_bad_items(daemon):
    assert api(daemon, "POST", "/v1/jobs", {"argv": ["true"], "queue": "builds"}).status_code == 201

    async def main():
        async with jobq.Queue("builds", socket=daemon.socket) as q:
            with pytest.raises(jobq.JobqError) as refused:
                await q.put("x")
            assert refused.value.code == "wrong_queue_kind" and refused.value.status == 409
            with pytest.raises(jobq.JobqError) as leasing:
                await q.get_nowait()
            assert leasing.value.code == "wrong_queue_kind"
            with pytest.raises(ValueError):
                await q.put(None)

    asyncio.run(main())


def test_sync_queue(daemon):
    with jobq.SyncQueue("script", socket=daemon.socket) as q:
        q.put({"a": 1})
        job = q.get()
        assert job.payload == {"a": 1}
        q.task_done(job)
        assert q.join(timeout=5) is True
        with pytest.raises(jobq.QueueEmpty):
            q.get_nowait()
