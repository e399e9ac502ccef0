"""The real jobqd for the client's tests: started in a temporary directory, ready when it says
READY=1 on a notify socket of ours, stopped after the test."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Iterator

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def jobqd_path() -> str:
    directory = os.environ.get("JOBQ_BIN") or os.path.join(ROOT, ".build", "debug")
    path = os.path.join(directory, "jobqd")
    if not os.path.exists(path):
        pytest.exit(f"no jobqd at {path}: build it (swift build) or set JOBQ_BIN", returncode=2)
    return path


class Daemon:
    """jobqd in `directory`, with `arguments` added to its command line (the dashboard's browser
    tests, Tests/Browser, start it so too)."""

    def __init__(self, directory: str, arguments: tuple = ()) -> None:
        self.directory = directory
        self.socket = os.path.join(directory, "jobq.sock")
        self.arguments = list(arguments)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        notify_path = os.path.join(self.directory, f"notify.{time.monotonic_ns()}")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, JOBQ_LOG_LEVEL="warning")
        log = open(os.path.join(self.directory, "jobqd.log"), "ab")
        self.process = subprocess.Popen(
            [jobqd_path(), "--state-dir", os.path.join(self.directory, "state"), "--socket", self.socket, *self.arguments],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                readable, _, _ = select.select([notify], [], [], 1.0)
                if readable and "READY=1" in notify.recv(4096).decode().split("\n"):
                    return
                if self.process.poll() is not None:
                    raise RuntimeError(f"jobqd exited with {self.process.returncode}")
            raise RuntimeError("jobqd sent no READY=1 in 60 s")
        finally:
            notify.close()
            log.close()

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    directory = tempfile.mkdtemp(prefix="jobq-python-")
    running = Daemon(directory)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)
