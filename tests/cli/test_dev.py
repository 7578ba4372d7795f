"""`catalog dev` (what `make dev` starts): the UI answers with the catalog's assets on the
deployment's own instance, and Ctrl-C or SIGTERM stops it and everything it started."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import ENTRIES, free_port, wait_for_http

QUERY = "{ assetNodes { assetKey { path } } }"


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


def test_catalog_dev_serves_the_catalog_and_stops_on_sigterm(catalog_env, tmp_path):
    port = free_port()
    log = tmp_path / "dev.log"
    project = Path(__file__).resolve().parents[2]
    with open(log, "w") as output:
        dev = subprocess.Popen(
            [sys.executable, "-m", "catalog_assets.cli", "dev", "--port", str(port)],
            cwd=project,  # as `make dev`; storage and instance stay under tmp_path
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    url = f"http://127.0.0.1:{port}"
    started: set[int] = set()
    try:
        wait_for_http(f"{url}/server_info", dev, timeout=120)
        request = urllib.request.Request(
            f"{url}/graphql",
            data=json.dumps({"query": QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        deadline = time.monotonic() + 60
        names: set[str] = set()
        while time.monotonic() < deadline and not set(ENTRIES) <= names:
            with urllib.request.urlopen(request, timeout=30) as answer:
                nodes = json.load(answer)["data"]["assetNodes"]
            names = {"/".join(n["assetKey"]["path"]) for n in nodes}
            time.sleep(0.5)
        assert set(ENTRIES) <= names, log.read_text()[-3000:]
        text = log.read_text()
        assert re.search(rf"the local deployment, .* Dagster instance {tmp_path}/\.catalog", text)
        started = descendants(dev.pid)
        assert started, "dev started no processes"
        assert any("grpc" in Path(f"/proc/{p}/cmdline").read_text() for p in alive(started))
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        finally:
            if dev.poll() is None:
                dev.kill()
    deadline = time.monotonic() + 30
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(started), f"left running after SIGTERM: {alive(started)}"
