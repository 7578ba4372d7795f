"""Helpers shared by the test modules (and the benchmarks' loopback S3 server)."""

import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def catalog_cli(
    env: dict[str, str] | None, *argv: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``catalog <argv>`` in a fresh interpreter, as a user runs it, its output captured as text;
    ``env`` None inherits this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "catalog_assets.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
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


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """One GraphQL request to a Dagster webserver; returns its ``data``."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        body = json.load(answer)
    assert "errors" not in body, body["errors"]
    return body["data"]


@contextlib.contextmanager
def catalog_dev(
    log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`catalog dev` started from the project as `make dev` does, on a free port; yields its URL
    and process once the UI answers, and stops it with SIGTERM (as a service manager would)."""
    port = free_port()
    with open(log, "w") as output:
        dev = subprocess.Popen(
            [sys.executable, "-m", "catalog_assets.cli", "dev", "--port", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env if env is not None else dict(os.environ),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/server_info", dev, timeout=120)
        yield url, dev
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        finally:
            if dev.poll() is None:
                dev.kill()


class _Forwarding(BaseHTTPRequestHandler):
    """Forwards every request to ``target`` unless ``gate`` answers it first with (status, body)."""

    target = ""
    gate: Callable[[BaseHTTPRequestHandler], tuple[int, bytes] | None] = staticmethod(
        lambda handler: None
    )

    def _forward(self) -> None:
        answer = type(self).gate(self)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        if answer is None:
            # http.client sends the request as it came (urllib would add a form Content-Type to
            # a body without one, which the server then parses away). Host is kept as signed, so
            # a server checking SigV4 signatures accepts it; Expect is dropped: the body is read.
            target = urllib.parse.urlsplit(self.target)
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            forwarded = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in ("content-length", "expect")
            }
            connection.request(self.command, self.path, body=data, headers=forwarded)
            response = connection.getresponse()
            status, headers, payload = response.status, response.headers, response.read()
            connection.close()
        else:
            (status, payload), headers = answer, {}
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "date",
                "server",
            ):
                self.send_header(name, value)
        # A HEAD answer has no body but says the object's length, as the server said it.
        length = headers.get("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


def s3_error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


@contextlib.contextmanager
def s3_proxy(
    target: str, gate: Callable[[BaseHTTPRequestHandler], tuple[int, bytes] | None]
) -> Iterator[str]:
    """An HTTP proxy in front of an S3 server on loopback, where ``gate`` sees each request and
    may answer it itself (a fault, a refusal); yields the proxy's URL."""
    handler = type("Gated", (_Forwarding,), {"target": target, "gate": staticmethod(gate)})
    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()


def copy_sample_catalog(target: Path, terms: bool = False) -> Path:
    """A copy of the sample catalog. Without ``terms`` (the default for tests of everything but
    data usage), its data-usage declarations are removed: the sources' terms, tenants.yaml and
    the entries' purpose and tenancy, so every entry is one unpartitioned asset."""
    import shutil

    import yaml

    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if terms:
        return target
    (target / "tenants.yaml").unlink()
    # Line by line, so the file keeps its layout (tests append sources to it as text).
    sources_file = target / "sources.yaml"
    kept, in_terms = [], False
    for line in sources_file.read_text().splitlines(keepends=True):
        if line.strip() == "terms:":
            in_terms = True
            continue
        if in_terms and line.startswith("      "):
            continue
        in_terms = False
        kept.append(line)
    sources_file.write_text("".join(kept))
    assert not any("terms" in s for s in yaml.safe_load(sources_file.read_text())["sources"])
    for metadata in target.glob("*/*.yaml"):
        kept = [
            line
            for line in metadata.read_text().splitlines(keepends=True)
            if not line.startswith(("purpose:", "tenancy:"))
        ]
        metadata.write_text("".join(kept))
    return target
