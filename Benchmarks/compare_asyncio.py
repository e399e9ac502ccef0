#!/usr/bin/env python3
"""Compare jobq's AsyncQueue with CPython's asyncio.Queue on the same workload, in one run.

The workload: P producer tasks put their share of N integers into a queue of a given maxsize,
C consumer tasks get until the queue is shut down once every producer is done; the items
received are counted and must equal N. Configurations: 1/1 and 4/4 tasks, maxsize unbounded,
1 and 100.

The Swift side is the `queue-throughput` tool of this package, built in release mode with the
Swift runtime linked in (`--static-swift-stdlib`, as `make release` builds jobq's binaries). It
reports AsyncQueue used from ordinary tasks ("AsyncQueue") and with producers and consumers
isolated to the queue ("AsyncQueue/iso"), with `--executor single`, where the process's
default executor is one thread, as asyncio runs every coroutine on one event loop (asyncio's
model, the ratios that compare like with like), and with `--executor pool`, on Swift's global
pool (all cores). For each configuration the two Swift runs and asyncio take turns, one timed
run each per round, in an order reversed every other round; each figure is the median of its
rounds.

    python3 Benchmarks/compare_asyncio.py [--items N] [--runs R] [--python PATH]

asyncio.Queue.shutdown needs Python 3.13; the script looks for python3.13 on PATH and in
pyenv's versions, or takes --python.
"""
import argparse
import asyncio
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGURATIONS = [(tasks, tasks, maxsize) for tasks in (1, 4) for maxsize in (0, 1, 100)]


async def _run_asyncio(producers, consumers, maxsize, items):
    queue = asyncio.Queue(maxsize)

    async def produce(count):
        for item in range(count):
            await queue.put(item)

    async def consume():
        taken = 0
        try:
            while True:
                await queue.get()
                taken += 1
        except asyncio.QueueShutDown:
            return taken

    consumer_tasks = [asyncio.create_task(consume()) for _ in range(consumers)]
    async with asyncio.TaskGroup() as group:
        for index in range(producers):
            group.create_task(produce(items // producers + (1 if index < items % producers else 0)))
    queue.shutdown()
    received = sum(await asyncio.gather(*consumer_tasks))
    if received != items:
        raise SystemExit(f"asyncio delivered {received} of {items} items")


def asyncio_worker(items, runs, configurations):
    """Runs inside Python 3.13: prints one JSON line per configuration (median items/s)."""
    for producers, consumers, maxsize in configurations:
        asyncio.run(_run_asyncio(producers, consumers, maxsize, min(items, 10_000)))  # warm-up
        rates = []
        for _ in range(runs):
            start = time.perf_counter()
            asyncio.run(_run_asyncio(producers, consumers, maxsize, items))
            rates.append(items / (time.perf_counter() - start))
        print(json.dumps({"implementation": "asyncio.Queue", "producers": producers, "consumers": consumers,
                          "maxsize": maxsize, "items": items, "items_per_second": int(statistics.median(rates))}),
              flush=True)


def find_python313(explicit):
    if explicit:
        return explicit
    if sys.version_info >= (3, 13):
        return sys.executable
    candidates = [shutil.which("python3.13")] + sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import asyncio; asyncio.Queue().shutdown"],
                                        capture_output=True).returncode == 0:
            return candidate
    raise SystemExit("compare_asyncio.py needs Python 3.13 (asyncio.Queue.shutdown); pass --python PATH")


def json_lines(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items moved per run (default 1000000)")
    parser.add_argument("--runs", type=int, default=5,
                        help="rounds per configuration; each round times one run of every side (default 5)")
    parser.add_argument("--python", help="a Python 3.13 interpreter for the asyncio side")
    parser.add_argument("--asyncio-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.asyncio_worker:
        configurations = CONFIGURATIONS
        if args.config:
            configurations = [tuple(int(field) for field in args.config.split("/"))]
        asyncio_worker(args.items, args.runs, configurations)
        return

    python = find_python313(args.python)
    scratch = os.path.join(HERE, ".build-static")
    subprocess.run(["swift", "build", "-c", "release", "--product", "queue-throughput", "--static-swift-stdlib",
                    "--scratch-path", scratch], cwd=HERE, check=True, stdout=subprocess.DEVNULL)
    tool = os.path.join(scratch, "release", "queue-throughput")
    print(f"# {args.items} items per run, {args.runs} alternating rounds per configuration, medians; "
          f"asyncio on {python}", flush=True)

    # The sides take turns, one timed run each per round (after its own warm-up), in an order
    # reversed every other round, so that the machine's drift from minute to minute falls on
    # every side alike; each side's figure is the median of its rounds.
    sides = [(executor, lambda config, executor=executor: [tool, "--items", str(args.items), "--runs", "1",
                                                            "--executor", executor, "--config", config])
             for executor in ("single", "pool")]
    sides.append(("asyncio", lambda config: [python, os.path.abspath(__file__), "--asyncio-worker", "--items",
                                             str(args.items), "--runs", "1", "--config", config]))
    samples = {}  # (side, implementation, producers, maxsize) -> [items/s]
    for producers, consumers, maxsize in CONFIGURATIONS:
        config = f"{producers}/{consumers}/{maxsize}"
        for round_index in range(args.runs):
            for side, command in (sides if round_index % 2 == 0 else list(reversed(sides))):
                for row in json_lines(command(config)):
                    key = (side, row["implementation"], row["producers"], row["maxsize"])
                    samples.setdefault(key, []).append(row["items_per_second"])
        print(f"# {config} done", file=sys.stderr, flush=True)

    def rate(side, name, producers, maxsize):
        values = samples.get((side, name, producers, maxsize))
        return int(statistics.median(values)) if values else None

    names = ["AsyncQueue/iso", "AsyncQueue", "AsyncStream", "AsyncChannel", "PlainActor"]
    for executor, title in (("single", "Swift on one thread (--executor single), as asyncio runs"),
                            ("pool", "Swift on its global pool (--executor pool, all cores)")):
        print(f"\n## {title}")
        print(f"{'configuration':<22}{'asyncio.Queue':>15}" + "".join(f"{n:>16}" for n in names)
              + f"{'iso/asyncio':>13}{'tasks/asyncio':>15}")
        for producers, consumers, maxsize in CONFIGURATIONS:
            label = f"{producers}p/{consumers}c maxsize={maxsize if maxsize else 'unb.'}"
            base = rate("asyncio", "asyncio.Queue", producers, maxsize)
            cells = [rate(executor, n, producers, maxsize) for n in names]
            line = f"{label:<22}{base:>15,}" + "".join(f"{c:>16,}" if c else f"{'-':>16}" for c in cells)
            line += f"{cells[0] / base:>12.1f}x{cells[1] / base:>14.1f}x"
            print(line)

if __name__ == "__main__":
    main()
