"""HTTP/1.1 to jobqd over its Unix socket (httpx), with reconnection across a restart."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Optional

import httpx

from ._errors import Unreachable, error_from

#: How long a call waits for jobqd to come back when it goes away (a restart, a crash).
DEFAULT_RECONNECT = 90.0


def default_socket() -> str:
    """jobq's own rule: $JOBQ_SOCKET, else the system daemon's socket for root, else the user
    daemon's ($XDG_RUNTIME_DIR/jobq/jobq.sock) when it exists, else the system daemon's."""
    if os.environ.get("JOBQ_SOCKET"):
        return os.environ["JOBQ_SOCKET"]
    system = "/run/jobq/jobq.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if os.getuid() != 0 and runtime:
        user = os.path.join(runtime, "jobq", "jobq.sock")
        if os.path.exists(user):
            return user
    return system


_LOST = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, FileNotFoundError,
         ConnectionError)


class Transport:
    """One httpx client on the socket; `call` retries while jobqd is away, up to `reconnect` seconds."""

    def __init__(self, socket: Optional[str] = None, reconnect: float = DEFAULT_RECONNECT) -> None:
        self.socket = socket or default_socket()
        self.reconnect = reconnect
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=self.socket), base_url="http://jobqd",
            timeout=httpx.Timeout(60.0, connect=5.0), headers={"user-agent": "jobq-python/0.2.0"})

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        """Sends a request and returns the decoded JSON answer; raises JobqError for a refusal."""
        deadline: Optional[float] = None
        pause = 0.05
        while True:
            try:
                response = await self._client.request(method, path, json=body if body is not None else {})
            except _LOST as error:
                now = time.monotonic()
                deadline = deadline or now + self.reconnect
                if now >= deadline:
                    raise Unreachable(f"cannot reach jobqd at {self.socket}: {error}") from error
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            if response.status_code == 503 and _code(response) == "shutting_down":
                deadline = deadline or time.monotonic() + self.reconnect
                if time.monotonic() >= deadline:
                    raise error_from(503, response.json())
                await asyncio.sleep(pause)
                continue
            if response.status_code >= 400:
                try:
                    payload = response.json()
                except ValueError:
                    payload = response.text
                raise error_from(response.status_code, payload)
            return response.json()


def _code(response: httpx.Response) -> Optional[str]:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
