#!/usr/bin/env python3
"""pgqueuer and procrastinate through their own documented APIs, one action per process, for
postgres_scenarios.py: prints one JSON line of what it measured.

    pg_peer.py TOOL install DSN
    pg_peer.py TOOL enqueue DSN COUNT BATCH          {"seconds": ...}  (BATCH 1: one call a job)
    pg_peer.py TOOL work DSN --concurrency C --job noop|true|sleep
                                                      {"ready": t, "done": t, "jobs": n}
TOOL is pgqueuer or procrastinate; `work` processes jobs until the queue is empty (pgqueuer's
drain mode, procrastinate's wait=False) and gives its start and end on the machine's monotonic
clock, so that several workers' spans can be joined.
"""
import argparse
import asyncio
import json
import time

ENTRYPOINT = "bench"


async def run_job(kind):
    if kind == "true":
        process = await asyncio.create_subprocess_exec("true")
        await process.wait()
    elif kind == "sleep":
        process = await asyncio.create_subprocess_exec("sleep", "0.05")
        await process.wait()


async def timed_enqueue(options, one, many):
    """Enqueues options.count jobs, one call each (`one()`) or in batches (`many(size)`)."""
    started = time.perf_counter()
    done = 0
    while done < options.count:
        size = min(options.batch, options.count - done)
        await (one() if options.batch == 1 else many(size))
        done += size
    return {"seconds": time.perf_counter() - started}


async def pgqueuer_main(options):
    import asyncpg
    from pgqueuer import QueueManager
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    connection = await asyncpg.connect(options.dsn)
    queries = Queries(AsyncpgDriver(connection))
    if options.action == "install":
        await queries.install()
        return {}
    if options.action == "enqueue":
        return await timed_enqueue(options, lambda: queries.enqueue(ENTRYPOINT, None),
                                   lambda size: queries.enqueue([ENTRYPOINT] * size, [None] * size, [0] * size))
    manager = QueueManager(queries)
    count = 0

    @manager.entrypoint(ENTRYPOINT)
    async def bench(job):
        nonlocal count
        await run_job(options.job)
        count += 1

    batch = 100 if options.job == "noop" else 1
    ready = time.monotonic()
    await manager.run(mode=QueueExecutionMode.drain, batch_size=batch,
                      max_concurrent_tasks=max(options.concurrency, 2 * batch))
    return {"ready": ready, "done": time.monotonic(), "jobs": count}


async def procrastinate_main(options):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=options.dsn))
    count = 0

    @app.task(name=ENTRYPOINT)
    async def bench():
        nonlocal count
        await run_job(options.job)
        count += 1

    async with app.open_async():
        if options.action == "install":
            await app.schema_manager.apply_schema_async()
            return {}
        if options.action == "enqueue":
            return await timed_enqueue(options, bench.defer_async, lambda size: bench.batch_defer_async(*([{}] * size)))
        ready = time.monotonic()
        await app.run_worker_async(concurrency=options.concurrency, wait=False, install_signal_handlers=False)
        return {"ready": ready, "done": time.monotonic(), "jobs": count}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=["pgqueuer", "procrastinate"])
    parser.add_argument("action", choices=["install", "enqueue", "work"])
    parser.add_argument("dsn")
    parser.add_argument("count", type=int, nargs="?", default=0)
    parser.add_argument("batch", type=int, nargs="?", default=1)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--job", choices=["noop", "true", "sleep"], default="noop")
    options = parser.parse_args()
    run = pgqueuer_main if options.tool == "pgqueuer" else procrastinate_main
    print(json.dumps(asyncio.run(run(options))), flush=True)


if __name__ == "__main__":
    main()
