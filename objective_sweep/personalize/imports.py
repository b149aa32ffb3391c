"""Dataset import jobs' reads from S3, as Personalize makes them: with the job's role, which (under the
local cloud's authorizer) the role's policy and the bucket policy must both allow."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from objective_sweep.localcloud.authorizer import AccessDenied, Authorizer
from objective_sweep.personalize.access import SERVICE
from objective_sweep.personalize.data import ImportFailure, Schema, Table, read_s3_location

# How Personalize words an import it may not read (its role or the bucket policy lacks a grant).
INSUFFICIENT_PRIVILEGES = "Insufficient privileges for accessing data in S3."


class S3Reader:
    def __init__(self, endpoint_url: str | None, authorizer: Authorizer | None) -> None:
        self._endpoint_url = endpoint_url
        self._authorizer = authorizer

    def read(self, location: str, schema: Schema, role_arn: str | None) -> Table:
        """The rows at `location` (one CSV or a folder of them), read as the job's role."""
        s3 = self._client(role_arn)
        try:
            table = read_s3_location(s3, location, schema)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("AccessDenied", "403"):
                raise
            message = error.response["Error"].get("Message", "")
            raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} {message}") from None
        finally:
            s3.close()
        if len(table) == 0:
            raise ImportFailure(f"{location}: the file has a header but no rows; add the data to import")
        return table

    def _client(self, role_arn: str | None) -> Any:
        """An S3 client acting as Personalize with the job's role."""
        session = boto3.session.Session()
        if self._authorizer is not None:
            if not role_arn:
                raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} The import job names no roleArn.")
            try:
                role = self._authorizer.assume(
                    role_arn, SERVICE, "personalize-import", resource_grant_required=True
                )
            except AccessDenied as denied:
                raise ImportFailure(f"{INSUFFICIENT_PRIVILEGES} {denied.message}") from None
            session = boto3.session.Session(
                aws_access_key_id=role.access_key,
                aws_secret_access_key=role.secret_key,
                aws_session_token=role.token,
            )
        # A fresh session per job: boto3's default session is not thread-safe. With no endpoint
        # given, boto3 reads AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself.
        return session.client("s3", endpoint_url=self._endpoint_url)
