"""The dashboard as a person uses it, in Chromium: sign in through the link jobq dashboard prints,
watch a job submitted with jobq submit move through its states without a reload, follow its
output live, cancel a running job from its page, pause and resume a queue, change its workers;
the browser's console stays free of errors, and every view is saved at both widths."""

from __future__ import annotations

import json
import os
import threading

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


def sign_in(browser, daemon) -> str:
    """Follows a fresh link from jobq dashboard; returns the dashboard's address."""
    link = daemon.jobq("dashboard", "--print").strip()
    assert "/sign-in?token=" in link, link
    browser.get(link)
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Overview")
    return link.split("/sign-in")[0]


def wait(browser, condition, timeout: float = 30):
    """Until `condition` holds; the page's content may be swapped in between two looks."""
    ignored = [NoSuchElementException, StaleElementReferenceException]
    return WebDriverWait(browser, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(condition)


def click(browser, selector: str) -> None:
    """Clicks the element, again if the page swapped its content in between (a click on a
    detached element raises and does nothing)."""
    wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, selector).click() or True)


def mark(browser) -> None:
    """A value in the page's window: it survives anything but a reload."""
    browser.execute_script("window.jobqMark = 'kept';")


def reloaded(browser) -> bool:
    return browser.execute_script("return window.jobqMark") != "kept"


def console_errors(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def job_state(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "span.state[data-state]").text


def row_state(browser, job: str) -> str:
    rows = browser.find_elements(By.CSS_SELECTOR, f"tr[data-job='{job}'] td.state")
    return rows[0].text if rows else ""


def release(fifo: str, line: str = "go") -> threading.Thread:
    """Writes a line into a FIFO from a thread (the open waits for the job to read)."""
    def write() -> None:
        with open(fifo, "w") as handle:
            handle.write(line + "\n")
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def submit(daemon, *command: str, queue: str = "default") -> str:
    return daemon.jobq("submit", "-q", queue, "--", *command).strip()


def shoot(browser, screenshots: str, name: str) -> None:
    """The view at both widths; at the phone's, the page must not be wider than the screen."""
    for label, (width, height) in WIDTHS.items():
        browser.set_window_size(width, height)
        wait(browser, lambda b: b.execute_script("return window.innerWidth") <= width)
        if label == "phone":
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: the page is {overflow} px wider than a 390-px screen"
        browser.save_screenshot(os.path.join(screenshots, f"{name}-{label}.png"))
    browser.set_window_size(*WIDTHS["desktop"])


def test_a_submitted_job_moves_through_its_states_without_a_reload(daemon, browser):
    base = sign_in(browser, daemon)
    fifo = os.path.join(daemon.directory, "states.fifo")
    os.mkfifo(fifo)
    daemon.jobq("pause", "states")
    browser.get(base + "/jobs?queue=states")
    wait(browser, lambda b: b.execute_script("return document.body.dataset.live") == "on")
    mark(browser)
    job = submit(daemon, "sh", "-c", f"read line < {fifo}", queue="states")
    wait(browser, lambda b: row_state(b, job) == "queued")
    daemon.jobq("resume", "states")
    wait(browser, lambda b: row_state(b, job) == "running")
    release(fifo).join(30)
    wait(browser, lambda b: row_state(b, job) == "succeeded")
    assert not reloaded(browser)
    assert console_errors(browser) == []


def test_output_is_followed_live_on_the_jobs_page(daemon, browser):
    base = sign_in(browser, daemon)
    fifo = os.path.join(daemon.directory, "output.fifo")
    os.mkfifo(fifo)
    job = submit(daemon, "sh", "-c", f"echo first line; read line < {fifo}; echo second line")
    browser.get(f"{base}/jobs/{job}")
    output = lambda b: b.find_element(By.ID, "output").text
    wait(browser, lambda b: "first line" in output(b))
    mark(browser)
    release(fifo).join(30)
    wait(browser, lambda b: "second line" in output(b))
    wait(browser, lambda b: job_state(b) == "succeeded")
    assert output(browser).splitlines() == ["first line", "second line"]
    assert not reloaded(browser)
    assert console_errors(browser) == []


def test_a_running_job_is_cancelled_from_its_page(daemon, browser):
    base = sign_in(browser, daemon)
    job = submit(daemon, "sleep", "300")
    browser.get(f"{base}/jobs/{job}")
    wait(browser, lambda b: job_state(b) == "running")
    click(browser, "form[action$='/cancel'] button")
    alert = wait(browser, expected_conditions.alert_is_present())
    assert alert.text == f"Cancel job {job}?"
    alert.accept()
    wait(browser, lambda b: job_state(b) == "cancelled")
    assert json.loads(daemon.jobq("show", "--json", job))["state"] == "cancelled"
    assert console_errors(browser) == []


def test_a_queue_is_paused_resumed_and_given_workers(daemon, browser):
    base = sign_in(browser, daemon)
    daemon.jobq("wait", submit(daemon, "true", queue="ops"))
    browser.get(base + "/queues")
    queue = lambda b: json.loads(daemon.jobq("workers", "--json", "ops"))[0]
    click(browser, "tr[data-queue='ops'] form[action$='/pause'] button")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "tr[data-queue='ops'] form[action$='/resume'] button"))
    assert queue(browser)["paused"] is True
    click(browser, "tr[data-queue='ops'] form[action$='/resume'] button")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "tr[data-queue='ops'] form[action$='/pause'] button"))
    assert queue(browser)["paused"] is False
    def type_three(b) -> bool:
        field = b.find_element(By.ID, "workers-ops")
        field.clear()
        field.send_keys("3")
        return field.get_attribute("value") == "3"
    wait(browser, type_three)
    click(browser, "tr[data-queue='ops'] form[action$='/concurrency'] button")
    wait(browser, lambda b: b.find_element(By.ID, "workers-ops").get_attribute("value") == "3")
    assert queue(browser)["concurrency"] == 3
    assert console_errors(browser) == []


def test_every_view_reads_at_both_widths_without_console_errors(daemon, browser, screenshots):
    base = sign_in(browser, daemon)
    fifo = os.path.join(daemon.directory, "views.fifo")
    os.mkfifo(fifo)
    for index in range(6):
        daemon.jobq("wait", submit(daemon, "sh", "-c", f"echo build step {index}; exit {1 if index % 3 == 2 else 0}", queue="builds"),
                    allowed=(0, 1))
    running = submit(daemon, "sh", "-c", f"echo compiling; echo 'warning: a long line of output that wraps on a phone screen'; read line < {fifo}",
                     queue="builds")
    for index in range(3):
        daemon.jobq("put", "mail", json.dumps({"to": f"user{index}@example.com", "subject": "Your report"}))
    browser.get(f"{base}/jobs/{running}")
    wait(browser, lambda b: "compiling" in b.find_element(By.ID, "output").text)
    for name, path in [("overview", "/"), ("queues", "/queues"), ("jobs", "/jobs"), ("job", f"/jobs/{running}"),
                       ("consumers", "/consumers")]:
        browser.get(base + path)
        wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text != "")
        if name == "job":
            wait(browser, lambda b: "compiling" in b.find_element(By.ID, "output").text)
        shoot(browser, screenshots, name)
    release(fifo).join(30)
    assert console_errors(browser) == []
