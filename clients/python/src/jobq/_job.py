"""A leased job: its payload, its lease, and the background heartbeat that keeps the lease."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Optional

from ._errors import LeaseLost


@dataclass
class Job:
    """A payload job a consumer holds under lease. `payload` is the item that was put."""

    id: int
    queue: str
    payload: Any
    token: str
    attempt: int
    expires_at: str
    raw: dict = field(repr=False)
    #: Set when a heartbeat heard that the lease is gone (the job was cancelled, or the lease
    #: expired): the work must stop, its result would be refused.
    lost: Optional[LeaseLost] = field(default=None, repr=False)
    _heartbeat: Optional["asyncio.Task[None]"] = field(default=None, repr=False)

    @classmethod
    def from_api(cls, raw: dict) -> "Job":
        lease = raw["lease"]
        return cls(id=raw["id"], queue=raw["spec"]["queue"], payload=raw["spec"].get("payload"),
                   token=lease["token"], attempt=raw["attempts"], expires_at=lease["expires_at"], raw=raw)

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
