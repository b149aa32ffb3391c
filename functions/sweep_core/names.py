"""Deterministic Personalize resource names derived from the experiment: the idempotency keys that
make every step describe-or-create, so reruns and retried tasks never create duplicates."""

from __future__ import annotations

import hashlib

from sweep_core.models import Sensitivity

DIGEST_CHARS = 8


def digest(*parts: str) -> str:
    """Short stable digest of the parts (8 hex characters keep every name within 63)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def dataset_group(experiment: str) -> str:
    return experiment


def schema(experiment: str, kind: str) -> str:
    return f"{experiment}-{kind}"


def dataset(experiment: str, kind: str) -> str:
    return f"{experiment}-{kind}"


def _attempt(key: str, attempt: int) -> str:
    """A failed resource is not retried in place: later attempts get names of their own, the attempt
    folded into the digest (names must stay within 63 characters)."""
    return digest(key) if attempt == 1 else digest(key, str(attempt))


def import_job(experiment: str, kind: str, data_version: str, attempt: int = 1) -> str:
    """One import job per version of a file: an identical rerun finds the job it already ran. Job names
    stay taken after a dataset is deleted, so an import after a cleanup is a later attempt."""
    return f"{experiment}-{kind}-{_attempt(data_version, attempt)}"


def solution(experiment: str, sensitivity: Sensitivity) -> str:
    return f"{experiment}-{sensitivity.lower()}"


def solution_version(experiment: str, sensitivity: Sensitivity, fingerprint: str, attempt: int = 1) -> str:
    """One FULL training per data fingerprint: the same data never trains (and bills) twice, unless
    the training failed, in which case a rerun trains a later attempt."""
    return f"{experiment}-{sensitivity.lower()}-{fingerprint if attempt == 1 else _attempt(fingerprint, attempt)}"


def campaign(experiment: str, sensitivity: Sensitivity) -> str:
    return f"{experiment}-{sensitivity.lower()}"


def lease_key(experiment: str) -> str:
    """S3 key of the lease that lets one execution of an experiment run at a time."""
    return f"runs/{experiment}/lease.json"


def progress_key(experiment: str) -> str:
    """S3 key where PrepareRun reports how far it has read the file it validates (`sweep run` shows it)."""
    return f"runs/{experiment}/progress.json"


def level_result_key(experiment: str, execution_name: str, sensitivity: Sensitivity) -> str:
    """Where CompareSolutions keeps a level's lists once fetched, so a retry does not fetch them again."""
    return f"{report_prefix(experiment, execution_name)}levels/{sensitivity}.json"


def run_claim_key(experiment: str, object_key: str, object_version: str) -> str:
    """S3 key that marks an uploaded run file's version as started by one execution."""
    return f"runs/{experiment}/claims/{digest(object_key, object_version)}.json"


def report_prefix(experiment: str, execution_name: str) -> str:
    return f"reports/{experiment}/{execution_name}/"


RUN_FILE_NAME = "sweep.json"


def experiment_prefix(experiment: str) -> str:
    """The S3 folder of an experiment's data and run file; an upload of its run file starts a sweep."""
    return f"experiments/{experiment}/"


def run_file_key(experiment: str) -> str:
    return experiment_prefix(experiment) + RUN_FILE_NAME


def validation_prefix(experiment: str, execution_name: str) -> str:
    """Where a chunked validation keeps its manifest, the item ids and each chunk's result (under runs/,
    which expires after 90 days)."""
    return f"runs/{experiment}/validation/{execution_name}/"


def chunk_result_key(experiment: str, execution_name: str, index: int) -> str:
    return f"{validation_prefix(experiment, execution_name)}chunk-{index:05d}.json"
