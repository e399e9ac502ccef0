"""jobq for Python: a jobqd queue as an asyncio.Queue shared by many processes, surviving
crashes (put, get, task_done, join), over jobqd's Unix socket. See README.md and jobq's
docs/consumers.md."""

from ._errors import JobqError, LeaseLost, QueueEmpty, Unreachable
from ._job import Job
from ._queue import Queue
from ._sync import SyncQueue
from ._transport import default_socket

__all__ = ["Job", "JobqError", "LeaseLost", "Queue", "QueueEmpty", "SyncQueue", "Unreachable", "default_socket"]
__version__ = "0.2.0"
