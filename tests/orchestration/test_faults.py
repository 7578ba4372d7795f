"""Faults during runs leave the last good value intact and visible, nothing partial or staged
behind, and a clear error naming the executed notebook."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import nbformat
import pytest

from tests.helpers import digests, materialize, stored_keys

pytestmark = pytest.mark.notebook

KILLS = {
    "killed before output": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", False),
    "killed after output": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", True),
    "terminated after output": ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)", True),
    "os._exit after output": ("import os\nos._exit(3)", True),
}


def add_cell(notebook: Path, source: str, after_output: bool) -> int:
    """Add a code cell before (or after) the hand-back cell; returns its position from 1."""
    nb = nbformat.read(notebook, as_version=4)
    index = len(nb.cells) if after_output else len(nb.cells) - 1
    nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, notebook)
    return index + 1


@pytest.mark.parametrize("fault", list(KILLS))
def test_a_dying_kernel_keeps_the_last_good_value_and_names_the_executed_notebook(
    catalog_env, catalog_dir, storage_root, tmp_path, fault
):
    assert materialize("genre_affinity").success
    good = digests("local/")
    notebook = catalog_dir / "features" / "genre_affinity.ipynb"
    source, after = KILLS[fault]
    cell = add_cell(notebook, source, after)

    result = materialize("genre_affinity")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert f"the kernel died while cell {cell} ran" in message
    executed = tmp_path / ".catalog" / "executed" / result.run_id / "genre_affinity.ipynb"
    assert executed.exists() and str(executed) in message
    assert "The previous value (version " in message and "DeadKernelError" not in message
    # Nothing partial: the area is byte for byte what it was, no staging is left behind.
    assert digests("local/") == good
    assert not list((storage_root / ".staging").iterdir())
    observation = (
        dg.DagsterInstance.get()
        .fetch_observations(dg.AssetKey("genre_affinity"), limit=1)
        .records[0]
        .asset_observation
    )
    assert observation.metadata["executed_notebook"].value == str(executed)


def test_a_first_run_that_fails_says_there_was_no_previous_value(catalog_env, catalog_dir):
    add_cell(catalog_dir / "features" / "genre_affinity.ipynb", "raise ValueError('x')", False)
    result = materialize("genre_affinity")
    message = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error.message
    assert "Nothing was stored (there is no previous value)." in message
    assert "previous value (version" not in message
    # A notebook's own error is not retried (storage errors are, inside the step).
    kinds = [e.event_type_value for e in result.all_events]
    assert kinds.count("STEP_START") == 1 and "STEP_UP_FOR_RETRY" not in kinds


def test_stream_output_is_capped_per_cell_with_head_tail_and_what_was_cut(
    catalog_env, catalog_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("CATALOG_MAX_OUTPUT_LINES", "100")
    add_cell(
        catalog_dir / "features" / "genre_affinity.ipynb",
        "for i in range(300_000):\n    print(f'line {i} of a chatty notebook')",
        False,
    )
    result = materialize("genre_affinity")
    assert result.success
    executed = tmp_path / ".catalog" / "executed" / result.run_id / "genre_affinity.ipynb"
    assert executed.stat().st_size < 100_000  # was 22 MB uncapped
    chatty = next(c for c in nbformat.read(executed, as_version=4).cells if "chatty" in c.source)
    text = json.dumps(chatty.outputs)
    assert "line 0 of a chatty" in text and "line 79 of a chatty" in text
    assert "line 80 of a chatty" not in text  # the middle is cut...
    assert "line 299999 of a chatty" in text  # ...the tail kept, and the count is exact however
    assert "299,900 lines (9.8 MB) of stdout cut" in text  # the kernel split the lines
    assert "of stdout cut by catalog_assets" in text and "CATALOG_MAX_OUTPUT_LINES" in text
    logs = dg.DagsterInstance.get().compute_log_manager
    total = sum(p.stat().st_size for p in Path(logs._base_dir).rglob("*") if p.is_file())  # noqa: SLF001
    assert total < 1_000_000  # the compute logs are capped too


def test_two_runs_of_one_entry_at_once_leave_one_complete_winner(
    catalog_env, storage_root, tmp_path
):
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "catalog_assets.definitions",
        "--select",
        "genre_affinity",
    ]
    # Two processes creating a fresh SQLite instance at once race in Dagster's own schema
    # set-up ("table runs already exists"); an operator's instance exists before its runs.
    with dg.DagsterInstance.get():
        pass
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs[0][-2000:] + outputs[1][-2000:]
    ref = json.loads((storage_root / "local" / "refs" / "genre_affinity.json").read_text())
    history = sorted((storage_root / "local" / "history" / "genre_affinity").glob("*.json"))
    assert len(history) == 2
    assert ref["sha256"] in {json.loads(p.read_text())["sha256"] for p in history}
    assert (storage_root / ref["object"]).stat().st_size == ref["size"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A real filesystem of 3 MB (tmpfs), as a full disk looks to the local backend."""
    if os.geteuid() != 0:
        reason = "mounting a tmpfs needs root (CI runs as root)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_keeps_the_last_good_value(catalog_env, catalog_dir, tiny_disk, monkeypatch):
    import shutil

    shutil.copytree(
        Path(os.environ["CATALOG_STORAGE_URL"]) / "sources" / "movio",
        tiny_disk / "sources" / "movio",
        ignore=shutil.ignore_patterns("transactions.parquet", "sessions.parquet"),
    )
    monkeypatch.setenv("CATALOG_STORAGE_URL", str(tiny_disk))
    notebook = catalog_dir / "features" / "genre_affinity.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    # A notebook whose product is small the first time and then too big for the disk.
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np, pandas as pd\nfrom catalog_assets import notebook as catalog"
        ),
        nbformat.v4.new_code_cell("rows = 10"),
        nbformat.v4.new_code_cell(
            "frame = pd.DataFrame({'x': np.random.default_rng(1).random(rows)})\n"
            "catalog.output(frame)"
        ),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, notebook)
    metadata = catalog_dir / "features" / "genre_affinity.yaml"
    metadata.write_text("description: d\nowner: team:data-science\n")
    assert materialize("genre_affinity").success
    good = digests("local/")
    # 16 MB of random floats, which do not compress, on a 3 MB disk.
    metadata.write_text(metadata.read_text() + "params: {rows: 2000000}\n")
    result = materialize("genre_affinity")
    assert not result.success
    message = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error.message
    assert "No space left on device" in message and "The previous value (version" in message
    assert digests("local/") == good
    assert not [k for k in stored_keys("") if "/.tmp-" in k]
    assert not list((tiny_disk / ".staging").iterdir())
