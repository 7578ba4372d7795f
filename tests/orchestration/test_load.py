"""Load: a thousand-entry catalog validates and loads; twenty materialization requests through
the queued run coordinator (a concurrency limit, the daemon launching each run in its own
process, as production does) all finish; and a long series of runs leaks nothing: no kernel
left running, no temporary or staging file, no open file of the long-lived processes."""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from benchmarks.environment import synthetic_catalog
from tests.helpers import alive, catalog_cli, catalog_dev, descendants, graphql, load_defs

ENTRIES = ("visits_a", "visits_b", "visits_c", "visits_d")
LIMIT = 3
REQUESTS = 20
WARM_UP = 2

LOCATION = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""
RUNS = """
query($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) { ... on Runs { results { runId status } } }
}"""
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


def test_a_thousand_entry_catalog_validates_and_loads(catalog_env, tmp_path, monkeypatch):
    catalog = synthetic_catalog(tmp_path / "big", 1000)
    monkeypatch.setenv("CATALOG_DIR", str(catalog))
    done = catalog_cli(None, "validate")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "OK, 1000 entries in 20 groups" in done.stdout
    definitions = load_defs()
    graph = definitions.resolve_asset_graph()
    names = {key.path[-1] for key in graph.get_all_asset_keys()}
    assert {f"entry_{i:05d}" for i in range(1000)} <= names
    upstream = graph.get(next(k for k in graph.get_all_asset_keys() if k.path[-1] == "entry_00049"))
    assert {k.path[-1] for k in upstream.parent_keys} == {"entry_00048"}


def tiny_catalog(root: Path) -> Path:
    for number, name in enumerate(ENTRIES):
        folder = root / f"group_{number}"
        folder.mkdir(parents=True)
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.cells = [
            nbformat.v4.new_code_cell(
                "import pandas as pd\n\nfrom catalog_assets import notebook as catalog"
            ),
            nbformat.v4.new_code_cell(
                f"catalog.output(pd.DataFrame({{'visit': range({100 * (number + 1)})}}))"
            ),
        ]
        nbformat.write(nb, folder / f"{name}.ipynb")
        (folder / f"{name}.yaml").write_text(f"description: {name}.\nowner: team:load\n")
    return root


def snapshot(dev_pid: int, storage: Path, tmp: Path) -> dict:
    """What a leak would grow: kernels, files in the temporary and staging folders, and open
    files per long-lived process (by command line, so a restarted worker is not a leak)."""
    processes = alive(descendants(dev_pid))
    commands = {}
    for pid in processes:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
            commands[pid] = (command, len(os.listdir(f"/proc/{pid}/fd")))
        except OSError:
            continue
    staging = storage / ".staging"
    return {
        "kernels": sorted(c for c, _ in commands.values() if "ipykernel" in c),
        "open files": {pid: count for pid, (_, count) in commands.items()},
        "temporary files": sorted(p.name for p in tmp.iterdir()),
        "staging": sorted(p.name for p in staging.iterdir()) if staging.exists() else [],
    }


def launch(url: str, location: str, name: str) -> str:
    selector = {
        "repositoryLocationName": location,
        "repositoryName": "__repository__",
        "jobName": "__ASSET_JOB",
        "assetSelection": [{"path": [name]}],
    }
    launched = graphql(url, LAUNCH, {"params": {"selector": selector, "runConfigData": {}}})
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    return launched["launchRun"]["run"]["runId"]


def wait_all(url: str, ids: list[str], timeout: float) -> tuple[dict[str, str], int]:
    """Final status of each run, and the most runs seen in progress at once."""
    deadline = time.monotonic() + timeout
    busiest = 0
    while time.monotonic() < deadline:
        runs = graphql(url, RUNS, {"ids": ids})["runsOrError"]["results"]
        statuses = {r["runId"]: r["status"] for r in runs}
        busiest = max(busiest, sum(s in ("STARTING", "STARTED") for s in statuses.values()))
        if len(statuses) == len(ids) and set(statuses.values()) <= DONE:
            return statuses, busiest
        time.sleep(0.5)
    raise AssertionError(f"runs still going after {timeout} s: {statuses}")


@pytest.mark.notebook
def test_twenty_queued_requests_all_finish_and_leak_nothing(catalog_env, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The deployment's instance is generated from the project's dagster.yaml: this one queues
    # runs and starts at most LIMIT at once.
    (tmp_path / "dagster.yaml").write_text(
        "run_coordinator:\n"
        "  module: dagster._core.run_coordinator\n"
        "  class: QueuedRunCoordinator\n"
        f"  config:\n    max_concurrent_runs: {LIMIT}\n"
        "telemetry:\n  enabled: false\n"
    )
    env = {
        **os.environ,
        "CATALOG_DIR": str(tiny_catalog(tmp_path / "catalog")),
        "TMPDIR": str(tmp),
    }
    storage = Path(env["CATALOG_STORAGE_URL"])
    with catalog_dev(tmp_path / "dev.log", env) as (url, dev):
        (entry,) = graphql(url, LOCATION)["workspaceOrError"]["locationEntries"]
        location = entry["name"]
        warm = [launch(url, location, ENTRIES[i]) for i in range(WARM_UP)]
        statuses, _ = wait_all(url, warm, timeout=300)
        assert set(statuses.values()) == {"SUCCESS"}
        before = snapshot(dev.pid, storage, tmp)

        ids = [launch(url, location, ENTRIES[i % len(ENTRIES)]) for i in range(REQUESTS)]
        statuses, busiest = wait_all(url, ids, timeout=900)
        assert list(statuses.values()) == ["SUCCESS"] * REQUESTS, statuses
        assert 1 < busiest <= LIMIT  # runs did overlap, and never beyond the limit
        time.sleep(2)  # the last run worker's exit
        after = snapshot(dev.pid, storage, tmp)

    for kind in ("kernels", "temporary files", "staging"):
        assert after[kind] == before[kind], (kind, before[kind], after[kind])
    assert before["kernels"] == [] and before["staging"] == []
    lasting = set(before["open files"]) & set(after["open files"])
    assert len(lasting) >= 3  # the webserver, the daemon, the code server
    grew = {
        pid: (before["open files"][pid], after["open files"][pid])
        for pid in lasting
        if after["open files"][pid] > before["open files"][pid]
    }
    assert not grew, json.dumps(grew)
    # Each entry's ref names the product of its last run: twenty runs, four complete values.
    refs = sorted(p.name for p in (storage / "local" / "refs").iterdir())
    assert refs == [f"{name}.json" for name in sorted(ENTRIES)]
