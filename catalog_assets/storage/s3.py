"""The S3 backend: the same keys and guarantees as the local one, on a bucket and prefix.

No object is ever visible half-written: a single PUT, or the completion of a multipart upload,
makes the whole object visible at once, and an upload that fails is aborted. Conditional writes use
S3's own preconditions: ``IfNoneMatch="*"`` (create-only: immutable objects, which a bucket policy
can require of branch credentials through the ``s3:if-none-match`` condition key) and
``IfMatch=<etag>`` (compare-and-swap of a ref). Reads can be pinned to the ETag a ref or a
provenance record names, and are hashed while they stream so a SHA-256 check costs no second pass.

No Dagster imports: the step process and the kernel make the same client (``make_client``), with
our own connect and read timeouts and bounded retries; credentials come from their environment.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog_assets.errors import StorageError
from catalog_assets.storage import keys
from catalog_assets.storage.backend import (
    CHUNK,
    Backend,
    ObjectInfo,
    ObjectMissing,
    PreconditionFailed,
    check_sha256,
    sha256_file,
)

PART_SIZE = 16 * 1024 * 1024
#: Up to this size an object is one PUT carrying its SHA-256, which S3 verifies and keeps: a
#: promotion then verifies the object from its checksum, without reading it. Larger objects go
#: up in parts (S3 keeps only a checksum of the parts' checksums for them).
SINGLE_PUT_LIMIT = 256 * 1024 * 1024


#: Our own timeouts (seconds) and attempts: a frozen endpoint fails a step in about
#: attempts x (connect or read timeout) plus backoff, not minutes; transient errors (throttling,
#: 5xx, dropped connections) are retried with botocore's bounded, jittered backoff.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_ATTEMPTS = 3


def make_client(
    endpoint_url: str | None = None,
    region_name: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """An S3 client with our timeouts and retry policy; credentials come from the environment
    (or the instance's role), as boto3 finds them."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region_name or None,
        config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
        ),
    )


def _b64(sha256: str) -> str:
    """A hex SHA-256 as S3 writes checksums: base64 of the digest."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Backend(Backend):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        single_put_limit: int = SINGLE_PUT_LIMIT,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
    ):
        self.bucket = bucket
        self.single_put_limit = int(single_put_limit)
        self.prefix = prefix.strip("/")
        if self.prefix:
            keys.validate(self.prefix)
        self.client = client or make_client(
            endpoint_url, region_name, connect_timeout, read_timeout, max_attempts
        )

    def _full(self, key: str) -> str:
        keys.validate(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def _fail(self, key: str, action: str, error: Exception) -> StorageError:
        code = _code(error)
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return PreconditionFailed(f"{self.uri(key)}: {action} refused: it changed or exists")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObjectMissing(f"{self.uri(key)}: no such object")
        return StorageError(f"{self.uri(key)}: cannot {action}: {code or error}")

    def list(self, prefix: str) -> list[ObjectInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            self._relative(item["Key"]),
                            int(item["Size"]),
                            item["ETag"],
                            item["LastModified"].timestamp(),
                        )
                    )
        except Exception as error:
            raise StorageError(
                f"s3://{self.bucket}/{full}: cannot list: {_code(error) or error}"
            ) from error
        return sorted(found, key=lambda info: info.key)

    def children(self, prefix: str) -> list[str]:
        full = self._full(prefix.rstrip("/")) + "/"
        names = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(full) :].rstrip("/"))
        except Exception as error:
            raise StorageError(
                f"s3://{self.bucket}/{full}: cannot list: {_code(error) or error}"
            ) from error
        return sorted(names)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except Exception as error:
            if _code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail(key, "read", error) from error
        return ObjectInfo(
            key, int(head["ContentLength"]), head["ETag"], head["LastModified"].timestamp()
        )

    def get_bytes(self, key: str) -> tuple[bytes, str]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            return response["Body"].read(), response["ETag"]
        except Exception as error:
            raise self._fail(key, "read", error) from error

    def put_bytes(
        self, key: str, data: bytes, *, if_absent: bool = False, if_version: str | None = None
    ) -> str:
        conditions: dict[str, str] = {}
        if if_absent:
            conditions["IfNoneMatch"] = "*"
        elif if_version is not None:
            conditions["IfMatch"] = if_version
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self._full(key),
                Body=data,
                ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                **conditions,
            )
        except Exception as error:
            raise self._fail(key, "write", error) from error
        return response["ETag"]

    def put_file(self, path: Path, key: str, *, if_absent: bool = False) -> None:
        conditions = {"IfNoneMatch": "*"} if if_absent else {}
        full = self._full(key)
        size = os.path.getsize(path)
        try:
            if size <= self.single_put_limit:
                with open(path, "rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=full,
                        Body=body,
                        ChecksumSHA256=_b64(sha256_file(Path(path))),
                        **conditions,
                    )
            else:
                self._multipart(path, full, conditions)
        except StorageError:
            raise
        except Exception as error:
            raise self._fail(key, "write", error) from error

    def _multipart(self, path: Path, full: str, conditions: dict[str, str]) -> None:
        """Upload in parts; only the completion makes the object visible, and it carries the
        create-only condition. Any failure aborts the upload, leaving no parts behind."""
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            with open(path, "rb") as handle:
                number = 1
                while chunk := handle.read(PART_SIZE):
                    digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    response = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=digest,
                    )
                    parts.append(
                        {"ETag": response["ETag"], "PartNumber": number, "ChecksumSHA256": digest}
                    )
                    number += 1
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **conditions,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            raise

    def copy(self, source: str, target: str) -> None:
        from boto3.s3.transfer import TransferConfig

        try:
            self.client.copy(
                {"Bucket": self.bucket, "Key": self._full(source)},
                self.bucket,
                self._full(target),
                ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                Config=TransferConfig(multipart_threshold=5 * 2**30 - 1),
            )
        except Exception as error:
            raise self._fail(target, f"copy {self.uri(source)} to", error) from error

    @contextlib.contextmanager
    def reading(
        self, key: str, *, version: str | None = None, sha256: str | None = None
    ) -> Iterator[Path]:
        handle, temp = tempfile.mkstemp(prefix="catalog-download-", suffix=Path(key).suffix)
        try:
            digest = hashlib.sha256()
            with os.fdopen(handle, "wb") as out:
                try:
                    conditions = {"IfMatch": version} if version is not None else {}
                    response = self.client.get_object(
                        Bucket=self.bucket, Key=self._full(key), **conditions
                    )
                    for chunk in response["Body"].iter_chunks(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                except Exception as error:
                    raise self._fail(key, "read", error) from error
            check_sha256(self.uri(key), sha256, digest.hexdigest())
            yield Path(temp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def verify_sha256(self, key: str, sha256: str) -> bool:
        """Whether the object's bytes hash to ``sha256``, from the checksum S3 verified when the
        object was written (no bytes read); objects uploaded in parts are read and hashed."""
        try:
            head = self.client.head_object(
                Bucket=self.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
        except Exception as error:
            raise self._fail(key, "read", error) from error
        stored = head.get("ChecksumSHA256")
        if (
            stored
            and "-" not in stored
            and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        ):
            return stored == _b64(sha256)
        return super().verify_sha256(key, sha256)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except Exception as error:
            raise self._fail(key, "delete", error) from error

    def _uploads(self) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            yield from page.get("Uploads", [])

    def stale_uploads(self, older_than: float) -> list[str]:
        return [
            f"{u['Key']} (upload {u['UploadId'][:12]}…)"
            for u in self._uploads()
            if u["Initiated"].timestamp() < older_than
        ]

    def abort_stale_uploads(self, older_than: float) -> list[str]:
        aborted = []
        for upload in list(self._uploads()):
            if upload["Initiated"].timestamp() < older_than:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted.append(f"{upload['Key']} (upload {upload['UploadId'][:12]}…)")
        return aborted
