"""The tasks the library starts, kept until they are done.

asyncio holds only a weak reference to a task: one that waits on a future
nobody else holds can be collected while pending ("Task was destroyed but
it is pending"), and one that fails with nobody awaiting it reports the
failure only when it is collected, if ever ("Task exception was never
retrieved"). A :class:`TaskGroup` keeps a strong reference to each task
until it ends, logs a failure once with its traceback when it ends, and
lets shutdown wait for what is still running.
"""

import asyncio
import logging
import time
from typing import Any, Awaitable, Dict, List, Tuple

__all__ = ["TaskGroup", "DEFAULT_GROUP", "spawn", "retrieve_exception"]

log = logging.getLogger("sockjs.tornado")


class TaskGroup:
    """The running tasks of one owner (a router)."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        #: task -> (what it does, whether its failure is logged here; the
        #: starter of a task may handle the failure itself).
        self._tasks: Dict["asyncio.Future[Any]", Tuple[str, bool]] = {}

    def spawn(self, coro: "Awaitable[Any]", what: str, log_failure: bool = True) -> "asyncio.Future[Any]":
        """Start ``coro`` as a task on the running loop and keep it until it
        ends; an exception it ends with is logged (ERROR, with traceback)
        under ``what``, unless ``log_failure`` is False (the caller looks
        at the task's result itself)."""
        task = asyncio.ensure_future(coro)
        self._tasks[task] = (what, log_failure)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: "asyncio.Future[Any]") -> None:
        what, log_failure = self._tasks.pop(task, ("task", True))
        if not log_failure or task.cancelled():
            return
        exc = task.exception()  # retrieved: asyncio will not report it again
        if exc is not None:
            log.error("%s failed", what, exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every task, those started
        meanwhile included; then cancel what is left and give the
        cancelled tasks (and what their cleanup starts) a moment to end.
        Returns how many tasks had to be cancelled."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(list(self._tasks), timeout=remaining)
        cancelled = 0
        for _ in range(2):
            left: List["asyncio.Future[Any]"] = list(self._tasks)
            if not left:
                break
            log.warning(
                "%d task(s) still running at shutdown cancelled: %s",
                len(left),
                ", ".join(sorted(set(self._tasks[t][0] for t in left))),
            )
            for task in left:
                task.cancel()
            cancelled += len(left)
            # A task that swallows its cancellation cannot hold shutdown up.
            await asyncio.wait(left, timeout=1.0)
        return cancelled

    def tasks(self) -> "List[asyncio.Future[Any]]":
        """The tasks still running (a copy)."""
        return list(self._tasks)


#: Where tasks go whose owner has no group of its own (a session made
#: without a router, in tests or by hand).
DEFAULT_GROUP = TaskGroup()


def spawn(owner: Any, coro: "Awaitable[Any]", what: str, log_failure: bool = True) -> "asyncio.Future[Any]":
    """:meth:`TaskGroup.spawn` on ``owner.tasks`` (a router's group), or on
    :data:`DEFAULT_GROUP` when ``owner`` has none."""
    group = getattr(owner, "tasks", None)
    if not isinstance(group, TaskGroup):
        group = DEFAULT_GROUP
    return group.spawn(coro, what, log_failure)


def retrieve_exception(fut: "asyncio.Future[Any]") -> None:
    """A done-callback for futures whose failure nobody needs (a write to a
    client that left): it marks the exception retrieved, so asyncio does
    not report it as "never retrieved"."""
    if not fut.cancelled():
        fut.exception()
