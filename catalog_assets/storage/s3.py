"""The S3 backend: the same layout and formats as the local one, on a bucket and prefix.

No object is ever visible half-written: an upload becomes visible only when it completes (a single
PUT, or the final step of a multipart upload, which boto3 aborts on failure), and replacing an
object is atomic, so a failed write leaves the previous version. Committing a staged product is a
server-side copy, so the product's bytes never travel through the step process again.

No Dagster imports (the notebook kernel uses it). In the step process the client comes from
dagster-aws's ``S3Resource``; in the kernel from boto3 with the same endpoint and region, while
credentials come from the environment both processes share.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog_assets.errors import StorageError
from catalog_assets.storage.backend import Backend

MULTIPART_THRESHOLD = 16 * 1024 * 1024


class S3Backend(Backend):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
    ):
        import boto3
        from boto3.s3.transfer import TransferConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region_name or None
        )
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def list(self, prefix: str) -> list[str]:
        keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            keys.extend(self._relative(item["Key"]) for item in page.get("Contents", []))
        return sorted(keys)

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        handle, temp = tempfile.mkstemp(prefix="catalog-upload-")
        os.close(handle)
        try:
            yield Path(temp)
            self.client.upload_file(temp, self.bucket, self._full(key), Config=self.transfer)
        finally:
            os.unlink(temp)

    @contextlib.contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        handle, temp = tempfile.mkstemp(prefix="catalog-download-", suffix=Path(key).suffix)
        os.close(handle)
        try:
            try:
                self.client.download_file(self.bucket, self._full(key), temp, Config=self.transfer)
            except ClientError as error:
                raise StorageError(f"{self.uri(key)}: cannot read: {error}") from error
            yield Path(temp)
        finally:
            os.unlink(temp)

    def rename(self, source: str, target: str) -> None:
        self.client.copy(
            {"Bucket": self.bucket, "Key": self._full(source)},
            self.bucket,
            self._full(target),
            Config=self.transfer,
        )
        self.client.delete_object(Bucket=self.bucket, Key=self._full(source))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    def size(self, key: str) -> int:
        return int(
            self.client.head_object(Bucket=self.bucket, Key=self._full(key))["ContentLength"]
        )
