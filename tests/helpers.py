"""Helpers shared by the test modules (and the benchmarks' loopback S3 server)."""

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import nbformat

from catalog_assets.settings import s3_options
from catalog_assets.storage.backends import open_backend

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = ("member_visit_features", "genre_affinity", "churn_model", "churn_scores")


class NotSklearn:
    """A type outside the libraries a model file may hold (module level so skops can name it)."""


def load_defs() -> dg.Definitions:
    from catalog_assets.definitions import defs

    return defs()


def materialize(*names: str) -> dg.ExecuteInProcessResult:
    """Materialize entries in process, on the instance of the test's DAGSTER_HOME."""
    job = load_defs().resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=[dg.AssetKey(n) for n in names],
        raise_on_error=False,
    )


def materializations(instance: dg.DagsterInstance, name: str) -> list[dg.AssetMaterialization]:
    records = instance.fetch_materializations(dg.AssetKey(name), limit=100).records
    return [r.asset_materialization for r in records]


def stored_keys(prefix: str) -> list[str]:
    """Keys under ``prefix`` of the storage root the environment points at (local or S3)."""
    backend = open_backend(os.environ["CATALOG_STORAGE_URL"], s3_options(os.environ))
    return [info.key for info in backend.list(prefix)]


def digests(prefix: str) -> dict[str, str]:
    """SHA-256 of every object under ``prefix`` of the current storage root."""
    return area_digests(
        open_backend(os.environ["CATALOG_STORAGE_URL"], s3_options(os.environ)), prefix
    )


def materialize_with_cli(env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``dagster asset materialize --select '*'`` on the code location, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "catalog_assets.definitions",
            "--select",
            "*",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def run_like_jupyter(path: Path) -> nbformat.NotebookNode:
    """Every cell top to bottom in a python3 kernel started in the notebook's folder, the
    parameters cell included, as JupyterLab runs it (which names the notebook to its kernel in
    JPY_SESSION_NAME). Returns the executed notebook."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(path.parent)}}
    ).execute(env={**os.environ, "JPY_SESSION_NAME": str(path)})
    return nb


def outputs_text(cell) -> str:
    """Everything a cell showed: streams and the plain-text form of results."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
        elif output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout}s")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A real S3 API server (moto_server) on a free loopback port; yields its URL."""
    with moto_process() as (url, _):
        yield url


@contextlib.contextmanager
def moto_process(env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """moto_server in a process of its own (a test may stop it); yields its URL and process."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url, server)
        yield url, server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=20)


def area_digests(backend, prefix: str) -> dict[str, str]:
    """SHA-256 of every object under ``prefix`` of a backend: compare an area before and after."""
    found = {}
    for info in backend.list(prefix):
        with backend.reading(info.key) as path:
            found[info.key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return found
