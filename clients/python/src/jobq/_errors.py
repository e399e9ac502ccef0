"""The errors jobqd answers with, by their stable codes (docs/api.md)."""

from __future__ import annotations

import asyncio


class JobqError(Exception):
    """jobqd refused a request: its HTTP status, its stable code and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.status = status
        self.code = code
        self.message = message


class LeaseLost(JobqError):
    """The lease is no longer held (it expired, was released, or the job was cancelled or
    finished): stop working on the job; another attempt may own it."""


class Unreachable(Exception):
    """jobqd could not be reached (nor came back within the reconnect window)."""


class QueueEmpty(asyncio.QueueEmpty):
    """get_nowait() found no ready job."""


def error_from(status: int, body: object) -> JobqError:
    """The exception for an error answer `{"error": {"code", "message"}}`."""
    code, message = f"http_{status}", str(body)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", message))
    kind = LeaseLost if code == "lease_lost" else JobqError
    return kind(status, code, message)
