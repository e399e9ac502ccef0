"""The dashboard in a real browser: the real jobqd with --web on a loopback port, the real jobq,
and Debian's Chromium driven by Selenium through chromium-driver. Screenshots go to
$JOBQ_SCREENSHOTS (default .build/dashboard-screenshots): build artefacts, not committed."""

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
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("JOBQ_BIN") or os.path.join(ROOT, ".build", "debug")
SCREENSHOTS = os.environ.get("JOBQ_SCREENSHOTS") or os.path.join(ROOT, ".build", "dashboard-screenshots")


class Daemon:
    """jobqd in a temporary directory, ready once it says READY=1 on a notify socket of ours."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.socket = os.path.join(directory, "jobq.sock")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        notify_path = os.path.join(self.directory, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, JOBQ_LOG_LEVEL="warning")
        log = open(os.path.join(self.directory, "jobqd.log"), "ab")
        self.process = subprocess.Popen(
            [os.path.join(BIN, "jobqd"), "--state-dir", os.path.join(self.directory, "state"), "--socket", self.socket,
             "--web", "127.0.0.1:0", "--workers", "4"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
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

    def jobq(self, *arguments: str, allowed: tuple = (0,)) -> str:
        """Runs jobq-cli against this daemon and returns its standard output; an exit code not
        `allowed` fails the test."""
        done = subprocess.run([os.path.join(BIN, "jobq-cli"), "--socket", self.socket, *arguments],
                              capture_output=True, text=True, timeout=60)
        if done.returncode not in allowed:
            raise RuntimeError(f"jobq {' '.join(arguments)}: exit {done.returncode}: {done.stderr}")
        return done.stdout

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    directory = tempfile.mkdtemp(prefix="jobq-browser-")
    running = Daemon(directory)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium at 1280×800 that keeps its console messages for the test to read."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> str:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    return SCREENSHOTS
