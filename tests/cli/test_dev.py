"""`catalog dev` (what `make dev` starts): the UI answers with the catalog's assets on the
deployment's own instance, and Ctrl-C or SIGTERM stops it and everything it started."""

import re
import time
from pathlib import Path

from tests.helpers import ENTRIES, alive, catalog_dev, descendants, graphql

QUERY = "{ assetNodes { assetKey { path } } }"


def test_catalog_dev_serves_the_catalog_and_stops_on_sigterm(catalog_env, tmp_path):
    log = tmp_path / "dev.log"
    started: set[int] = set()
    with catalog_dev(log) as (url, dev):
        deadline = time.monotonic() + 60
        names: set[str] = set()
        while time.monotonic() < deadline and not set(ENTRIES) <= names:
            nodes = graphql(url, QUERY)["assetNodes"]
            names = {"/".join(n["assetKey"]["path"]) for n in nodes}
            time.sleep(0.5)
        assert set(ENTRIES) <= names, log.read_text()[-3000:]
        text = log.read_text()
        assert re.search(rf"the local deployment, .* Dagster instance {tmp_path}/\.catalog", text)
        started = descendants(dev.pid)
        assert started, "dev started no processes"
        assert any("grpc" in Path(f"/proc/{p}/cmdline").read_text() for p in alive(started))
    assert dev.returncode is not None
    deadline = time.monotonic() + 30
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(started), f"left running after SIGTERM: {alive(started)}"
