"""The workflow's exception taxonomy. A class name is the Step Functions error name a Lambda task
reports, so the state machine's Retry and Catch clauses match on these names."""

from __future__ import annotations

import json
from dataclasses import dataclass


class SweepError(Exception):
    """Base of every error the workflow raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, and how to fix it."""

    file: str
    message: str
    fix: str
    line: int | None = None
    column: str | None = None
    # Further rows of the same file with the same kind of problem, counted instead of listed.
    repeats: int = 0

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" — {self.fix}"
        if self.repeats:
            text += f" (and {self.repeats} more {'row' if self.repeats == 1 else 'rows'} like it)"
        return text


class InvalidInputError(SweepError):
    """The run's configuration or data is unusable; nothing was created in Personalize."""

    def __init__(self, problems: list[Problem], *, more: int = 0) -> None:
        self.problems = problems
        self.more = more
        lines = [str(p) for p in problems]
        if more:
            lines.append(f"... and {more} more problem(s) not listed")
        super().__init__("\n".join(lines))


class ResourceFailedError(SweepError):
    """A Personalize resource ended in CREATE FAILED (or a version in CREATE STOPPED); the message
    carries the resource's failureReason. Not retried: rerunning the same request fails the same way."""


class ResourceLimitError(SweepError):
    """Personalize refused a request for a quota or throttling reason (LimitExceededException,
    ThrottlingException). Transient: the state machine retries it with a long backoff."""


class ResourceBusyError(SweepError):
    """Personalize reported ResourceInUseException: a resource is still being created or updated.
    Transient: the state machine retries it."""


class TransientServiceError(SweepError):
    """A call's answer never arrived (read timeout, connection closed or refused) after the SDK's own
    retries. Transient: the state machine retries the step, and describe-or-create makes that safe
    even when the call had done its work before the answer was lost."""


class ExperimentBusyError(SweepError):
    """Another execution of the same experiment is running; this one ends without touching
    Personalize."""


class DataUnavailableError(SweepError):
    """A data file of the run cannot be read after the run started (deleted or replaced since
    PrepareRun validated it), or a chunk of it was never validated (its result is missing)."""


class WaitTimeout(SweepError):
    """A wait loop used up its time budget (written beside the wait in the state machine)."""


class NoActiveLevelError(SweepError):
    """Every sensitivity failed; the report was still written and names each failure."""


def readable_cause(cause: str) -> str:
    """A Catch's Cause without Lambda's JSON wrapper: a Lambda error arrives as {errorMessage,
    errorType, stackTrace}, and users want the message, not the stack trace."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause
