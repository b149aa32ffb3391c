"""The background status engine: moves a resource (or a campaign update) through CREATE PENDING and
CREATE IN_PROGRESS to ACTIVE or CREATE FAILED while its work (an import, a training) runs, honours fault
rules and StopSolutionVersionCreation, and carries out deletes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from objective_sweep.personalize import training
from objective_sweep.personalize.data import ImportFailure
from objective_sweep.personalize.faults import Faults
from objective_sweep.personalize.records import (
    ACTIVE,
    DELETE_IN_PROGRESS,
    DELETE_PENDING,
    FAILED,
    IN_PROGRESS,
    PENDING,
    STOPPED,
    STOPPING,
    Progress,
    Store,
    Tracked,
)

LOG = logging.getLogger(__name__)


class JobFailure(Exception):
    """A background job's resource fails with this failureReason."""


class JobRunner:
    """Two pools: status changes and imports (light), training (heavy, one worker per core)."""

    def __init__(self, store: Store, faults: Faults, *, status_delay: float, training_workers: int) -> None:
        self._store = store
        self._faults = faults
        self._delay = status_delay
        self._stopping = threading.Event()
        self._light = ThreadPoolExecutor(max_workers=8, thread_name_prefix="personalize-status")
        self._heavy = ThreadPoolExecutor(max_workers=training_workers, thread_name_prefix="personalize-train")
        # Jobs whose real work (an import's parse, a fit) runs now; the local cloud's clock runs at
        # real speed while it is above zero.
        self._working = 0
        self._working_lock = threading.Lock()

    def computing(self) -> bool:
        """Whether some job's real work is running now; an injected delay (faults) does not count."""
        with self._working_lock:
            return self._working > 0

    def shutdown(self) -> None:
        """Stop background work; jobs that are waiting end at once, a running fit finishes first."""
        self._stopping.set()
        self._light.shutdown(wait=True, cancel_futures=True)
        self._heavy.shutdown(wait=True, cancel_futures=True)

    def _work(self, work: Callable[[], None]) -> None:
        with self._working_lock:
            self._working += 1
        try:
            work()
        finally:
            with self._working_lock:
                self._working -= 1

    def _pause(self) -> bool:
        """Let a status be observable for a moment; False once the server is stopping."""
        return not self._stopping.wait(self._delay)

    def _hold(self, holder: Progress, resource: str, names: tuple[str, ...]) -> bool:
        """Keep a job in progress while an injected delay lasts; clearing the rule or stopping the job
        ends it early. False once the server is stopping."""
        started = time.monotonic()
        while holder.status != STOPPING:
            left = self._faults.delay(resource, names) - (time.monotonic() - started)
            if left <= 0:
                break
            if self._stopping.wait(min(left, 0.05)):
                return False
        return True

    def _stopped_by_caller(self, holder: Progress) -> bool:
        with self._store.transaction():
            if holder.status != STOPPING:
                return False
            holder.move(STOPPED)
            return True

    def _move(self, holder: Progress, status: str, failure_reason: str | None = None) -> None:
        with self._store.transaction():
            holder.move(status, failure_reason)

    def progress(
        self,
        holder: Progress,
        resource: str,
        names: tuple[str, ...],
        work: Callable[[], None] | None = None,
        *,
        heavy: bool = False,
        on_active: Callable[[], None] | None = None,
    ) -> None:
        """Move `holder` through IN_PROGRESS to ACTIVE or CREATE FAILED in the background. `resource`
        and `names` are what fault rules match; `on_active` runs under the lock as it becomes ACTIVE."""

        def job() -> None:
            if not self._pause():
                return
            with self._store.transaction():
                if self._stopped_by_caller(holder) or holder.status != PENDING:
                    return
                holder.move(IN_PROGRESS)
            try:
                if not self._hold(holder, resource, names):
                    return
                if self._stopped_by_caller(holder):
                    return
                reason = self._faults.failure_for(resource, names)
                if reason:
                    raise JobFailure(reason)
                if work is not None:
                    self._work(work)
                if not self._pause():
                    return
                with self._store.transaction():
                    if self._stopped_by_caller(holder):
                        return
                    holder.move(ACTIVE)
                    if on_active is not None:
                        on_active()
            except (JobFailure, ImportFailure, training.TrainingFailure) as exc:
                self._move(holder, FAILED, str(exc))
            except Exception as exc:
                LOG.exception("background job for %s failed", names)
                self._move(
                    holder,
                    FAILED,
                    f"Internal error in the local Personalize endpoint: {type(exc).__name__}: {exc}",
                )

        (self._heavy if heavy else self._light).submit(job)

    def delete(self, record: Tracked) -> None:
        """Delete a resource the caller found deletable: DELETE PENDING now, DELETE IN_PROGRESS, then gone."""
        self._move(record, DELETE_PENDING)

        def job() -> None:
            if not self._pause():
                return
            self._move(record, DELETE_IN_PROGRESS)
            if not self._pause():
                return
            with self._store.transaction() as records:
                records.remove(type(record), record.arn)

        self._light.submit(job)
