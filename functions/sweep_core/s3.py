"""S3 access the steps share: URIs and paths relative to a run file, object version tokens, streaming
reads, and a conditional-write claim that makes S3-triggered runs start once."""

from __future__ import annotations

import codecs
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from botocore.exceptions import ClientError

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


def claim(s3: S3Client, location: S3Location, owner: str) -> str:
    """Create the claim object unless it exists (If-None-Match); return whoever owns the claim."""
    try:
        s3.put_object(
            Bucket=location.bucket,
            Key=location.key,
            Body=json.dumps({"owner": owner}).encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        return str(read_json(s3, location)["owner"])
    return owner
