"""`catalog history`, `catalog rollback` and `catalog gc`, on a local root and on the S3 server."""

import os
import time

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from catalog_assets.cli import main
from catalog_assets.settings import Settings
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore

FRAME = pd.DataFrame({"member_id": np.arange(100), "score": np.linspace(0, 1, 100)})
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=BACKENDS)
def env(request, monkeypatch):
    values = request.getfixturevalue("s3_catalog_env" if request.param == "s3" else "catalog_env")
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    return values


def prod_store() -> CatalogStore:
    settings = Settings.from_env()
    return CatalogStore.open(settings.deployment, settings.s3)


def put(value, run_id: str):
    return prod_store().write_value(
        value, {"entry": "scores", "run_id": run_id}, formats.LoadPolicy()
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_history_lists_versions_newest_first_and_marks_the_current(env, capsys):
    first, second = put(FRAME.head(10), "run-one"), put(FRAME.head(20), "run-two")
    code, out, _ = run(capsys, "history", "scores")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "scores in prod (2 versions; * = current)"
    assert lines[2].startswith("*") and second.short in lines[2] and "run-two"[:8] in lines[2]
    assert first.short in lines[3] and not lines[3].startswith("*")
    code, out, _ = run(capsys, "history", "scores", "--json")
    assert [r["sha256"] for r in __import__("json").loads(out)] == [second.sha256, first.sha256]


def test_rollback_repoints_the_ref_and_records_it_in_dagster(env, capsys):
    first, second = put(FRAME.head(10), "run-one"), put(FRAME.head(20), "run-two")
    code, out, _ = run(capsys, "rollback", "scores", "--to", first.sha256[:8])
    assert code == 0, out
    assert f"scores in prod: now {first.short} (was {second.short})" in out
    store = prod_store()
    current = store.read_ref("scores")[0]
    assert current.sha256 == first.sha256 and current.event == "rolled_back"
    assert current.rolled_back_from == second.sha256
    pd.testing.assert_frame_equal(store.load(current, formats.LoadPolicy()), FRAME.head(10))

    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey("scores"))
    materialization = event.asset_materialization
    assert materialization.tags["dagster/data_version"] == first.sha256
    assert "Rolled back to version" in materialization.description
    assert materialization.metadata["catalog/rolled_back_from"].value == second.sha256

    _, out, _ = run(capsys, "history", "scores")
    assert "rolled_back" in out.splitlines()[2] and out.splitlines()[2].startswith("*")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rollback", "scores", "--to", "abc"], "at least 6 characters"),
        (["rollback", "scores", "--to", "ffffffff"], "has no version ffffffff in prod"),
        (["history", "nothing"], "nothing has no versions in prod"),
        (["gc", "--keep-days", "-1"], "--keep-days must be 0 or more"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(env, capsys, argv, message):
    put(FRAME.head(10), "run-one")
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_rollback_to_the_current_version_is_refused(env, capsys):
    current = put(FRAME.head(10), "run-one")
    code, _, err = run(capsys, "rollback", "scores", "--to", current.sha256[:10])
    assert code == 2 and "already at version" in err


def test_gc_deletes_only_what_no_ref_and_no_recent_history_points_to(env, capsys):
    old, kept = put(FRAME.head(10), "run-one"), put(FRAME.head(20), "run-two")
    store = prod_store()
    # A branch's ref also protects the object it points to.
    branch_settings = Settings.from_env(
        {**os.environ, "CATALOG_DEPLOYMENT": "branch", "CATALOG_BRANCH": "feature/x"}
    )
    branch = CatalogStore.open(branch_settings.deployment, branch_settings.s3)
    on_branch = branch.write_value(FRAME.head(30), {"entry": "scores"}, formats.LoadPolicy())

    code, out, _ = run(capsys, "gc", "--dry-run")  # everything is recent
    assert code == 0 and "would delete 0 objects" in out
    code, out, _ = run(capsys, "gc", "--keep-days", "0", "--dry-run")
    assert f"would delete {store.backend.uri(old.object)}" in out
    assert store.backend.stat(old.object) is not None  # a dry run deletes nothing

    code, out, _ = run(capsys, "gc", "--keep-days", "0")
    assert code == 0 and "deleted 1 objects" in out
    assert store.backend.stat(old.object) is None
    assert store.backend.stat(kept.object) is not None
    assert store.backend.stat(on_branch.object) is not None
    # History keeps the record; a rollback to a collected version says why it cannot.
    code, _, err = run(capsys, "rollback", "scores", "--to", old.sha256[:8])
    assert code == 2 and "was garbage-collected" in err


def test_gc_removes_leftovers_of_killed_writes_but_not_running_ones(catalog_env, capsys, tmp_path):
    from catalog_assets.storage.local import staging_folder_name

    root = tmp_path / "storage"
    staging = root / ".staging"
    staging.mkdir(parents=True)
    dead = staging / staging_folder_name("scores", "deadbeef-run").replace(
        f"_{os.getpid()}@", "_999999@"
    )
    dead.mkdir()
    (dead / "product").write_bytes(b"half a product")
    alive = staging / staging_folder_name("scores", "running-run")
    alive.mkdir()
    temp = root / "prod" / "refs" / ".tmp-scores.json.0123"
    temp.parent.mkdir(parents=True)
    temp.write_bytes(b"{")
    past = time.time() - 3600
    os.utime(dead, (past, past))
    os.utime(temp, (past, past))

    code, out, _ = run(capsys, "gc", "--keep-days", "0")
    assert code == 0
    assert not dead.exists() and not temp.exists()
    assert alive.exists()  # its process (this one) is alive: a step still running
    assert "deleted 0 objects (0 B) and 2 leftovers" in out


@pytest.mark.s3
def test_gc_aborts_interrupted_multipart_uploads(s3_catalog_env, s3_client, s3_bucket, capsys):
    upload = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="catalog/objects/x/y.parquet")
    s3_client.upload_part(
        Bucket=s3_bucket,
        Key="catalog/objects/x/y.parquet",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"a" * 1024,
    )
    code, out, _ = run(capsys, "gc", "--keep-days", "0")
    assert code == 0 and "1 leftovers" in out
    assert not s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
