"""S3 through s3fs, with conditional writes as S3 defines them.

`put_if_absent` sends `If-None-Match: *` and `put_if_match` sends
`If-Match: <etag>`. S3 answers 412 when the condition fails, 404 for
If-Match on a missing key, and may answer 409 while another conditional
write to the key is in flight: all three mean "not written". A 412 can also
answer a retry of a request that did succeed (the first response was lost),
so before reporting a lost race we read the key back and compare it with our
own payload, which is unique (it carries a random nonce). A content-addressed
write (`put_content`) needs no such check: whoever wrote the key wrote the
same content.

Transient errors (503 SlowDown, connection resets, timeouts) are retried by
botocore's standard retry mode with exponential backoff, and again by s3fs.
`region_name` is never passed: moto refuses bucket creation with it.
"""
from __future__ import annotations

import os
import time

from artrepo.errors import UserError
from artrepo.storage.backend import MissingObjectError, ObjectInfo, joined
from artrepo.storage.backends.generic import FsspecBackend

BODY_ATTEMPTS = 5
NOT_WRITTEN = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"}


def s3_filesystem(endpoint_url: str | None):
    import s3fs

    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    client_kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return s3fs.S3FileSystem(client_kwargs=client_kwargs, use_listings_cache=False, skip_instance_cache=True,
                             config_kwargs={"retries": {"max_attempts": 6, "mode": "standard"}})


def error_code(exc: BaseException) -> str | None:
    """The S3 error code behind an exception s3fs translated, if any."""
    cause = exc if hasattr(exc, "response") else exc.__cause__
    response = getattr(cause, "response", None) or {}
    return response.get("Error", {}).get("Code") or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _cut_short(exc: BaseException) -> bool:
    """A response body that ended early or a connection dropped while reading it."""
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    return bool(names & {"ClientPayloadError", "ResponseStreamingError", "IncompleteReadError",
                         "ContentLengthError", "ServerDisconnectedError", "ClientOSError", "ReadTimeoutError"})


class S3Backend(FsspecBackend):
    def __init__(self, url: str, endpoint_url: str | None = None):
        super().__init__(url, fs=s3_filesystem(endpoint_url))
        self.bucket, _, prefix = self.root.partition("/")
        self.prefix = prefix.strip("/")
        if not self.bucket:
            raise UserError(f"invalid S3 URL {url}: no bucket")

    @classmethod
    def check_url(cls, url: str) -> None:
        pass

    def key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _run(self, make_coro):
        from fsspec.asyn import sync

        try:
            return sync(self.fs.loop, make_coro)
        except OSError as exc:
            if error_code(exc) == "NoSuchBucket":
                raise UserError(f"remote {self.url}: bucket {self.bucket!r} does not exist") from None
            raise

    def _get(self, key: str, **extra) -> tuple[bytes, str] | None:
        async def fetch():
            try:
                resp = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key(key), **extra)
            except FileNotFoundError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise
                return None
            except OSError as exc:
                if error_code(exc) == "InvalidRange":  # a range past the end: the object is shorter
                    return b"", ""
                raise
            async with resp["Body"] as body:
                return await body.read(), resp["ETag"]

        for attempt in range(BODY_ATTEMPTS):
            try:
                return self._run(fetch)
            except Exception as exc:  # botocore retries the request; a body cut short is ours to retry
                if not _cut_short(exc):
                    raise
                if attempt == BODY_ATTEMPTS - 1:
                    raise UserError(f"remote {self.url}: reading {key} failed {BODY_ATTEMPTS} times "
                                    f"(connection cut mid-body: {type(exc).__name__}); try again") from None
                time.sleep(min(2.0, 0.1 * 2 ** attempt))

    def get(self, key: str) -> bytes:
        return self._body(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._body(key, Range=f"bytes={start}-{start + length - 1}") if length > 0 else b""

    def _body(self, key: str, **extra) -> bytes:
        found = self._get(key, **extra)
        if found is None:
            raise MissingObjectError(key)
        return found[0]

    def get_with_token(self, key: str) -> tuple[bytes, str] | None:
        return self._get(key)

    def put(self, key: str, data) -> None:
        self._put(key, joined(data))

    def _put(self, key: str, data: bytes, read_back: bool = True, **condition) -> bool:
        async def send():
            try:
                await self.fs._call_s3("put_object", Bucket=self.bucket, Key=self.key(key), Body=data, **condition)
                return True
            except (OSError, FileExistsError) as exc:
                if condition and error_code(exc) in NOT_WRITTEN:
                    return False
                raise

        written = self._run(send)
        if written or not read_back:
            return written
        # A 412 may answer the retry of our own successful write: read it back.
        current = self._get(key)
        return current is not None and current[0] == data

    def put_if_absent(self, key: str, data) -> bool:
        return self._put(key, joined(data), IfNoneMatch="*")

    def put_new(self, key: str, data) -> bool:
        return self._put(key, joined(data), read_back=False, IfNoneMatch="*")

    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        return self._put(key, joined(data), IfMatch=token)

    def info(self, key: str) -> ObjectInfo | None:
        async def head():
            try:
                resp = await self.fs._call_s3("head_object", Bucket=self.bucket, Key=self.key(key))
            except FileNotFoundError as exc:
                if error_code(exc) == "NoSuchBucket":
                    raise
                return None
            return ObjectInfo(int(resp["ContentLength"]), resp["LastModified"].timestamp())

        return self._run(head)
