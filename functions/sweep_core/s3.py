"""S3 access the steps share: URIs and paths relative to a run file, object version tokens, streaming
reads, and a conditional-write claim that makes S3-triggered runs start once."""

from __future__ import annotations

import codecs
import json
import posixpath
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from botocore.exceptions import ClientError

from sweep_core.errors import DataUnavailableError, TransientServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ValueError(f"{uri!r} is not an s3:// URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError(f"{uri!r} needs a bucket and a key: s3://BUCKET/KEY")
        return cls(bucket, key)


def resolve(path: str, *, bucket: str, base: S3Location | None = None) -> S3Location:
    """An s3:// URI as is; otherwise a key relative to the run file's folder (or the bucket root)."""
    if path.startswith("s3://"):
        return S3Location.parse(path)
    folder = posixpath.dirname(base.key) if base else ""
    key = posixpath.normpath(posixpath.join(folder, path.lstrip("/")))
    if key.startswith("../") or key in ("..", "."):
        raise ValueError(f"{path!r} points outside the bucket")
    return S3Location(base.bucket if base else bucket, key)


def object_version(s3: S3Client, location: S3Location) -> str:
    """The object's VersionId, or its ETag where the bucket is not versioned."""
    head = s3.head_object(Bucket=location.bucket, Key=location.key)
    version = head.get("VersionId")
    if version and version != "null":
        return version
    return head["ETag"].strip('"')


def read_range(s3: S3Client, location: S3Location, etag: str, first: int, last: int) -> bytes:
    """Bytes first..last (inclusive) of the object, if it is still the one with this ETag."""
    try:
        response = s3.get_object(
            Bucket=location.bucket, Key=location.key, Range=f"bytes={first}-{last}", IfMatch=etag
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _EXISTS:
            raise
        raise DataUnavailableError(
            f"{location.uri} was replaced while the run was validating it; start the run again"
        ) from error
    return response["Body"].read()


def object_size(s3: S3Client, location: S3Location) -> tuple[int, str]:
    """(size in bytes, ETag) of the object."""
    head = s3.head_object(Bucket=location.bucket, Key=location.key)
    return head["ContentLength"], head["ETag"]


def open_stream(s3: S3Client, location: S3Location) -> BinaryIO:
    """The object's body as a stream (read(n)/close()): validation never holds a whole file."""
    return cast(BinaryIO, s3.get_object(Bucket=location.bucket, Key=location.key)["Body"])


def text_lines(stream: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[str]:
    """Decode a byte stream into lines (newlines kept, as the csv module wants), chunk by chunk.
    Only "\n" ends a line, so "\r\n" split across chunks stays one line ending."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    while chunk := stream.read(chunk_size):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def read_json(s3: S3Client, location: S3Location) -> Any:
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    return json.loads(body)


def put_text(s3: S3Client, location: S3Location, text: str, content_type: str) -> None:
    s3.put_object(
        Bucket=location.bucket, Key=location.key, Body=text.encode("utf-8"), ContentType=content_type
    )


# Conditional writes: 412 when the key exists; 409 when another conditional write to the same key is
# in flight (S3 user guide, "Conditional writes"), which is worth another try.
_EXISTS = ("PreconditionFailed", "412")
# What a GetObject of a key that is not there answers: NoSuchKey (404), or AccessDenied (403) to a role
# that may not list the bucket — which is also the answer to a role that may not read the key.
MISSING_OR_DENIED = ("NoSuchKey", "404", "AccessDenied", "403")
_CONFLICT = ("ConditionalRequestConflict", "409")
_CLAIM_TRIES = 6


def claim(
    s3: S3Client,
    location: S3Location,
    owner: str,
    *,
    body: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create the claim object unless it exists (If-None-Match); return whoever owns the claim."""
    document = json.dumps({"owner": owner, **(body or {})}).encode("utf-8")
    for attempt in range(_CLAIM_TRIES):
        try:
            s3.put_object(
                Bucket=location.bucket,
                Key=location.key,
                Body=document,
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _EXISTS:
                return str(read_json(s3, location)["owner"])
            if code not in _CONFLICT:
                raise
            sleep(0.05 * 2**attempt)
            continue
        return owner
    raise TransientServiceError(
        f"{location.uri}: concurrent writes kept conflicting; the step will be retried"
    )


@dataclass(frozen=True)
class Lease:
    """Who runs an experiment now, and until when the claim holds if never released."""

    owner: str
    expires_at: datetime


_LEASE_TRIES = 4


def take_lease(
    s3: S3Client,
    location: S3Location,
    owner: str,
    now: datetime,
    ttl: timedelta,
    *,
    running: Callable[[str], bool],
) -> Lease:
    """Hold the lease unless another execution holds it and is still running; returns the holder.

    A lease left behind — it expired, or `running` says its execution has ended (stopped, timed out, or
    its last step failed before giving the lease back) — is taken over by a write conditional on that
    lease's ETag: of two executions taking over the same stale lease, one wins and the other finds the
    winner holding it."""
    document = {"expiresAt": (now + ttl).isoformat()}
    for _ in range(_LEASE_TRIES):
        if claim(s3, location, owner, body=document) == owner:
            return Lease(owner, now + ttl)
        held = _read_lease(s3, location)
        if held is None:
            continue  # given back since the claim failed: claim again
        holder, expires, etag = held
        if holder == owner:
            return Lease(owner, expires)
        if expires > now and running(holder):
            return Lease(holder, expires)
        try:
            s3.put_object(
                Bucket=location.bucket,
                Key=location.key,
                Body=json.dumps({"owner": owner, **document}).encode("utf-8"),
                ContentType="application/json",
                IfMatch=etag,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in (*_EXISTS, *_CONFLICT, "NoSuchKey", "404"):
                raise
            continue  # another execution took it over (or it was given back) first: look again
        return Lease(owner, now + ttl)
    raise TransientServiceError(f"{location.uri}: the lease kept changing hands; the step will be retried")


def _read_lease(s3: S3Client, location: S3Location) -> tuple[str, datetime, str] | None:
    """(owner, expiry, ETag) of the lease, or None when there is none."""
    try:
        response = s3.get_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    lease = json.loads(response["Body"].read())
    return str(lease["owner"]), datetime.fromisoformat(str(lease["expiresAt"])), response["ETag"]


def exists(s3: S3Client, location: S3Location) -> bool:
    """Whether the object exists, asked by listing its key as a prefix: roles allowed to list only
    one prefix of the bucket (s3:prefix) can ask, where a GET of a missing key would answer 403."""
    listed = s3.list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1).get("Contents", [])
    return any(item["Key"] == location.key for item in listed)


def release_lease(s3: S3Client, location: S3Location, owner: str) -> bool:
    """Give the lease up if `owner` holds it; returns whether it did."""
    if not exists(s3, location) or read_json(s3, location).get("owner") != owner:
        return False
    s3.delete_object(Bucket=location.bucket, Key=location.key)
    return True
