#!/usr/bin/env python3
"""schemathesis (from PyPI) against docs/openapi.yaml and the running daemon: examples,
coverage, fuzzing and stateful phases, every check, until --max-time is spent. The
daemon runs as `nobody` (what the generated jobs run as: random commands must not run as root)
behind a small TCP-to-Unix-socket relay, since schemathesis speaks TCP.

- schemathesis reports no failure: no 5xx, every response matches the schema;
- at least --min-requests requests were sent (counted by the relay);
- the daemon is up at the end and its store is sound.

Needs python3-venv; installs schemathesis 4 into /var/cache/jobq-reliability/venv once.

    scripts/reliability/schemathesis_run.py [--max-time 120 | --max-examples N] [--min-requests 2000]
"""

import argparse
import asyncio
import os
import pwd
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, integrity  # noqa: E402

VENV = os.environ.get("JOBQ_RELIABILITY_VENV", "/var/cache/jobq-reliability/venv")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis_hooks.py")
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")


def schemathesis():
    binary = os.path.join(VENV, "bin", "schemathesis")
    if not os.access(binary, os.X_OK):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "schemathesis>=4,<5"], check=True)
    return binary


class Relay(threading.Thread):
    """127.0.0.1:PORT to the daemon's Unix socket, counting HTTP requests (request lines)."""

    def __init__(self, socket_path):
        super().__init__(daemon=True)
        self.socket_path = socket_path
        self.requests = 0
        self.port = None
        self.ready = threading.Event()
        self.loop = None

    def run(self):
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.serve())

    async def serve(self):
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            client_writer.close()
            return
        pattern = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|TRACE) /")

        async def pipe(reader, writer, count):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if count:
                        self.requests += len(pattern.findall(data))
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                try:
                    writer.close()
                except OSError:
                    pass

        await asyncio.gather(pipe(client_reader, upstream_writer, True), pipe(upstream_reader, client_writer, False))


def failure_section(lines):
    """The lines of schemathesis's FAILURES section, without blank ones (empty when absent)."""
    section, inside = [], False
    for line in lines:
        if re.match(r"^=+ (FAILURES|ERRORS) =+$", line.strip()):
            inside = True
        elif re.match(r"^=+ [A-Z ]+ =+$", line.strip()):
            inside = False
        if inside and line.strip():
            section.append(line)
    return section


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-time", type=int, default=None,
                        help="schemathesis's time budget (s): fuzzing and stateful tests repeat until it is spent")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="test cases per operation and phase instead: a run of a fixed size, however busy the machine")
    parser.add_argument("--min-requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    binary = schemathesis()
    nobody = pwd.getpwnam("nobody")

    with Workdir("schemathesis") as work:
        home = os.path.join(work.path, "daemon")
        os.mkdir(home, 0o755)
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        daemon = work.daemon(state_dir=os.path.join(home, "state"), socket_path=os.path.join(home, "jobq.sock"),
                             args=["--workers", "2"], env={"JOBQ_KILL_GRACE_SECONDS": "1"})
        command = daemon.command
        if os.geteuid() == 0:
            daemon.command = lambda: ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                                      "--clear-groups", "--"] + command()
            # the notify socket must be writable by nobody
            os.chmod(work.path, 0o777)
        daemon.start()
        relay = Relay(daemon.socket)
        relay.start()
        relay.ready.wait(10)

        arguments = [binary, "--config-file", CONFIG, "run", os.path.join(ROOT, "docs", "openapi.yaml"), "--url", f"http://127.0.0.1:{relay.port}",
                     "--phases", "examples,coverage,fuzzing,stateful", "--checks", "all",
                     "--exclude-checks", "ignored_auth,use_after_free,ensure_resource_availability",
                     "--request-timeout", "30",
                     # one worker: with two, hypothesis's lambda descriptions hit a CPython 3.11 race
                     # (SystemError: AST constructor recursion depth mismatch) in a 300 s run
                     "--workers", "1",
                     "--suppress-health-check", "all", "--no-color",
                     # an endless stream by design (its route tests cover it)
                     "--exclude-path", "/v1/events"]
        if options.max_time is not None or options.max_examples is None:
            arguments += ["--max-time", str(options.max_time or 120)]
        if options.max_examples is not None:
            arguments += ["--max-examples", str(options.max_examples)]
        if options.seed is not None:
            arguments += ["--seed", str(options.seed)]
        env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
                   PYTHONPATH=os.path.dirname(HOOKS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run(arguments, capture_output=True, text=True, env=env, cwd=work.path)
        report = out.stdout + out.stderr
        lines = report.strip().split("\n")
        tail = "\n".join(lines if out.returncode != 0 else lines[-25:])  # all of it when it failed
        print("  schemathesis said:\n" + "\n".join("    " + line for line in tail.split("\n")), flush=True)
        if out.returncode != 0:
            # CI shows the end of the output: the failures again, after schemathesis's summary
            failures = failure_section(lines)
            if failures:
                print("  the failures again (with the curl that reproduces each):\n"
                      + "\n".join("    " + line for line in failures), flush=True)
        print(f"  {relay.requests} requests went through the relay", flush=True)
        results.check("schemathesis found no failure (no 5xx, every response matches docs/openapi.yaml)",
                      out.returncode == 0, f"exit {out.returncode}")
        results.check(f"at least {options.min_requests} generated requests", relay.requests >= options.min_requests,
                      f"{relay.requests}")
        results.check("the daemon is up", daemon.process.poll() is None, daemon.log_tail())
        client = Client(daemon.socket)
        status, _ = client.request("GET", "/healthz")
        client.close()
        results.check("and answers", status == 200, f"{status}")
        results.check("the daemon stops", daemon.stop() is not None)
        results.check("PRAGMA integrity_check", integrity(daemon.state_dir) == ["ok"])


if __name__ == "__main__":
    run("schemathesis", main)
