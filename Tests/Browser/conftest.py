"""The dashboard in a real browser: the real jobqd with --web on a loopback port, the real jobq,
and Debian's Chromium driven by Selenium through chromium-driver. Screenshots go to
$JOBQ_SCREENSHOTS (default .build/dashboard-screenshots): build artefacts, not committed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("JOBQ_BIN") or os.path.join(ROOT, ".build", "debug")
SCREENSHOTS = os.environ.get("JOBQ_SCREENSHOTS") or os.path.join(ROOT, ".build", "dashboard-screenshots")


# The Python client's tests start jobqd the same way: its Daemon, with --web.
_spec = importlib.util.spec_from_file_location("jobq_client_tests", os.path.join(ROOT, "clients", "python", "tests", "conftest.py"))
_client_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_client_tests)


class Daemon(_client_tests.Daemon):
    """jobqd in a temporary directory with the dashboard on a loopback port, ready once it says
    READY=1, and jobq to drive it."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory, ("--web", "127.0.0.1:0", "--workers", "4"))

    def jobq(self, *arguments: str, allowed: tuple = (0,)) -> str:
        """Runs jobq-cli against this daemon and returns its standard output; an exit code not
        `allowed` fails the test."""
        done = subprocess.run([os.path.join(BIN, "jobq-cli"), "--socket", self.socket, *arguments],
                              capture_output=True, text=True, timeout=60)
        if done.returncode not in allowed:
            raise RuntimeError(f"jobq {' '.join(arguments)}: exit {done.returncode}: {done.stderr}")
        return done.stdout


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
