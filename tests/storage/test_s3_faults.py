"""Storage faults on a real S3 API server: a server that stops mid-upload, one that never
answers, one that fails transiently. Each ends in one clear error within our own timeouts, the
last good value intact, and nothing left behind that `catalog gc` does not clean."""

import os
import signal
import socket
import threading
import time

import boto3
import numpy as np
import pandas as pd
import pytest

from catalog_assets.errors import StorageError
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore
from tests.helpers import area_digests, catalog_cli, moto_process, s3_error, s3_proxy

pytestmark = pytest.mark.s3
POLICY = formats.LoadPolicy()
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def credentials(monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def store(url: str, endpoint: str, **options) -> CatalogStore:
    return CatalogStore.open(Deployment("prod", url), {"endpoint_url": endpoint, **options})


def test_a_server_stopped_during_a_multipart_upload_keeps_the_last_good_value(
    credentials, tmp_path
):
    with moto_process() as (endpoint, server):
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="faults")
        prod = store(
            "s3://faults/root",
            endpoint,
            single_put_limit=5 * 2**20,
            connect_timeout=1,
            read_timeout=2,
            max_attempts=2,
        )
        good = prod.write_value(pd.DataFrame({"x": [1, 2, 3]}), {"entry": "big"}, POLICY)
        before = area_digests(prod.backend, "prod/")
        big = pd.DataFrame({"noise": np.random.default_rng(2).random(4_000_000)})  # ~32 MB

        stopped = threading.Event()

        def stop_when_uploading() -> None:
            client = boto3.client("s3", endpoint_url=endpoint)
            while not stopped.is_set():
                if client.list_multipart_uploads(Bucket="faults").get("Uploads"):
                    os.kill(server.pid, signal.SIGSTOP)
                    stopped.set()
                time.sleep(0.01)

        watcher = threading.Thread(target=stop_when_uploading, daemon=True)
        watcher.start()
        started = time.monotonic()
        with pytest.raises(StorageError) as raised:
            prod.write_value(big, {"entry": "big"}, POLICY)
        elapsed = time.monotonic() - started
        stopped.set()
        os.kill(server.pid, signal.SIGCONT)
        assert "cannot write" in str(raised.value) and "Traceback" not in str(raised.value)
        assert elapsed < 60  # our timeouts, not minutes
        # The last good value is intact and current; the interrupted upload is gc's to abort.
        assert area_digests(prod.backend, "prod/") == before
        assert prod.read_ref("big")[0].sha256 == good.sha256
        assert not list(tmp_path.glob("catalog-big-*"))
        from catalog_assets.storage.maintenance import collect

        # Whatever the step's own abort did not reach (the server was stopped), gc aborts.
        collect(prod, 0, dry_run=False)
        assert (
            not boto3.client("s3", endpoint_url=endpoint)
            .list_multipart_uploads(Bucket="faults")
            .get("Uploads")
        )


def test_an_endpoint_that_never_answers_fails_within_our_timeouts(credentials, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections, never answers
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "CATALOG_STORAGE_URL": "s3://frozen/root",
        "CATALOG_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "CATALOG_S3_CONNECT_TIMEOUT": "1",
        "CATALOG_S3_READ_TIMEOUT": "1",
        "CATALOG_S3_MAX_ATTEMPTS": "2",
        "CATALOG_DEPLOYMENT": "prod",
        "CATALOG_HOME": str(tmp_path),
    }
    started = time.monotonic()
    done = catalog_cli(env, "history", "scores", timeout=120)
    listener.close()
    assert done.returncode == 2
    assert "Read timeout" in done.stderr or "timed out" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert time.monotonic() - started < 60


def test_transient_errors_are_retried_with_backoff(credentials):
    failures, seen = [2], []

    def slow_down(request) -> tuple[int, bytes] | None:
        """The first GETs of a ref are answered 503 SlowDown, as S3 does under load."""
        seen.append(request.command)
        if request.command == "GET" and "/refs/" in request.path and failures[0] > 0:
            failures[0] -= 1
            return s3_error(503, "SlowDown", "Please reduce your rate")
        return None

    with moto_process() as (endpoint, _):
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="flaky")
        ref = store("s3://flaky/root", endpoint).write_value(
            pd.DataFrame({"x": [1]}), {"entry": "t"}, POLICY
        )
        with s3_proxy(endpoint, slow_down) as url:
            through_proxy = store("s3://flaky/root", url, max_attempts=4, read_timeout=5)
            assert through_proxy.read_ref("t")[0].sha256 == ref.sha256
            assert failures[0] == 0 and seen.count("GET") == 3  # two were retried
            # Without retries, the same fault is one clear error.
            failures[0] = 1
            once = store("s3://flaky/root", url, max_attempts=1)
            with pytest.raises(StorageError, match="SlowDown"):
                once.read_ref("t")
