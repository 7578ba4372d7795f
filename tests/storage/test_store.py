"""The store on a local root and on a real S3 API server: refs, provenance, history, isolation."""

import hashlib
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog_assets.errors import StorageError
from catalog_assets.settings import Deployment, branch_slug
from catalog_assets.storage import formats
from catalog_assets.storage.backend import IntegrityError
from catalog_assets.storage.refs import InputVersion, Ref
from catalog_assets.storage.store import CatalogStore, Staged
from tests.helpers import area_digests

FRAME = pd.DataFrame({"member_id": np.arange(200), "score": np.linspace(0, 1, 200)})
POLICY = formats.LoadPolicy()
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=BACKENDS)
def root(request, tmp_path) -> str:
    """A storage root: a local directory, or a fresh bucket on the loopback S3 server."""
    if request.param == "s3":
        return f"s3://{request.getfixturevalue('s3_bucket')}/root"
    return str(tmp_path / "storage")


def store_for(root: str, kind: str = "local", branch: str | None = None) -> CatalogStore:
    import os

    from catalog_assets.settings import s3_options

    slug = branch_slug(branch) if branch else None
    return CatalogStore.open(Deployment(kind, root, branch, slug), s3_options(os.environ))


def put(store: CatalogStore, entry: str, value, **fields) -> Ref:
    return store.write_value(value, {"entry": entry, **fields}, POLICY)


def test_a_product_is_an_immutable_object_named_by_a_ref_with_provenance(root):
    prod = store_for(root, "prod")
    inputs = {
        "members": InputVersion(
            kind="source", area="sources", key="sources/m.parquet", version='"etag1"'
        )
    }
    ref = put(prod, "scores", FRAME, run_id="run-1", code_version="c0de", inputs=inputs)
    assert ref.sha256 == hashlib.sha256(_bytes(prod, ref.object)).hexdigest()
    assert ref.object == f"prod/objects/scores/{ref.sha256}.parquet"
    current, _ = prod.read_ref("scores")
    assert current == ref
    assert current.area == "prod" and current.deployment == "prod"
    assert current.inputs["members"].version == '"etag1"'
    assert current.facts["row_count"] == 200
    pd.testing.assert_frame_equal(prod.load(current, POLICY), FRAME)


def _bytes(store: CatalogStore, key: str) -> bytes:
    with store.backend.reading(key) as path:
        return Path(path).read_bytes()


def test_every_load_verifies_the_bytes_against_the_ref(root):
    prod = store_for(root, "prod")
    ref = put(prod, "scores", FRAME)
    other = put(store_for(root, "local"), "other", FRAME.head(5))
    # Replace the object's bytes with another valid parquet file, as a tampering writer would.
    with prod.backend.reading(other.object) as path:
        prod.backend.put_file(Path(path), ref.object)
    with pytest.raises(IntegrityError, match="refusing to load it"):
        prod.load(ref, POLICY)
    # A ref pointing at an object that is not the one its sha256 names is refused too.
    forged = ref.model_copy(update={"object": other.object})
    with pytest.raises(IntegrityError, match="not the object of its sha256"):
        prod.load(forged, POLICY)


def test_a_branch_reads_its_own_ref_else_production_and_production_versions_survive(root):
    prod = store_for(root, "prod")
    first = put(prod, "features", FRAME)
    branch = store_for(root, "branch", "feature/x")
    resolved = branch.resolve("features")
    assert resolved.area == "prod" and resolved.ref.sha256 == first.sha256
    # Production moves on; the version the branch read still exists and still loads.
    put(prod, "features", FRAME.head(10))
    assert prod.resolve("features").ref.sha256 != first.sha256
    pd.testing.assert_frame_equal(branch.load(first, POLICY), FRAME)
    # Once the branch has its own version, it reads that.
    put(branch, "features", FRAME.head(3))
    assert branch.resolve("features").area == branch.area
    assert len(branch.load(branch.resolve("features").ref, POLICY)) == 3
    assert branch.resolve("missing") is None


def test_history_lists_every_version_written(root):
    local = store_for(root)
    shas = [put(local, "scores", FRAME.head(n), run_id=f"run-{n}").sha256 for n in (5, 6, 7)]
    history = local.history("scores")
    assert [r.sha256 for r in history] == shas
    assert [r.run_id for r in history] == ["run-5", "run-6", "run-7"]
    assert local.read_ref("scores")[0].sha256 == shas[-1]


def test_the_same_product_twice_is_stored_once(root):
    local = store_for(root)
    first = put(local, "scores", FRAME)
    second = put(local, "scores", FRAME)
    assert first.object == second.object
    objects = [i.key for i in local.backend.list("local/objects/scores/")]
    assert objects == [first.object]
    assert len(local.history("scores")) == 2


@pytest.mark.parametrize(
    "attack",
    [
        "branches/x/../../prod/refs/scores.json",
        "prod/refs/scores.json",
        "branches/other-0123456789/refs/scores.json",
        "sources/movio/members.parquet",
        "/prod/refs/scores.json",
        "prod\\refs\\scores.json",
        "branches//prod/refs/scores.json",
    ],
)
def test_a_branch_cannot_write_outside_its_area(root, attack):
    prod = store_for(root, "prod")
    put(prod, "scores", FRAME)
    before = area_digests(prod.backend, "prod/")
    branch = store_for(root, "branch", "x")
    with pytest.raises(StorageError):
        branch.keep_file(Path(__file__), attack)
    assert area_digests(prod.backend, "prod/") == before


@pytest.mark.parametrize(
    "key", ["branches/x/../../prod/a", "../prod/a", "/prod/a", "prod\\a", "prod//a", "prod/./a"]
)
def test_backends_refuse_keys_that_could_alias_another(root, key):
    backend = store_for(root).backend
    for operation in (
        lambda: backend.put_bytes(key, b"x"),
        lambda: backend.delete(key),
        lambda: backend.get_bytes(key),
        lambda: backend.stat(key),
    ):
        with pytest.raises(StorageError, match="refusing storage key"):
            operation()


def test_a_branch_cannot_publish_a_ref_for_another_area(root):
    prod = store_for(root, "prod")
    ref = put(prod, "scores", FRAME)
    before = area_digests(prod.backend, "prod/")
    branch = store_for(root, "branch", "x")
    with pytest.raises(StorageError, match="refusing to commit a ref for area prod"):
        branch.commit(Staged(Path(__file__), ref, "0"))
    assert area_digests(prod.backend, "prod/") == before


def test_a_branch_never_writes_an_object_production_reads(root, tmp_path):
    prod = store_for(root, "prod")
    ref = put(prod, "scores", FRAME)
    before = area_digests(prod.backend, "prod/")
    forged = tmp_path / "forged.parquet"
    FRAME.head(1).to_parquet(forged)
    branch = store_for(root, "branch", "x")
    # A branch stores objects in its own area only; production's are out of its reach.
    key = branch.store_object(forged, "scores", ref.sha256, "parquet")
    assert key.startswith(f"{branch.area}/objects/")
    with pytest.raises(StorageError, match="writes only under branches/"):
        branch.keep_file(forged, ref.object)
    assert area_digests(prod.backend, "prod/") == before


def test_promotion_copies_a_branch_object_into_production_and_verifies_it(root):
    branch = store_for(root, "branch", "x")
    ref = put(branch, "scores", FRAME)
    prod = store_for(root, "prod")
    adopted = prod.adopt_object(ref)
    assert adopted.object == f"prod/objects/scores/{ref.sha256}.parquet"
    pd.testing.assert_frame_equal(prod.load(adopted, POLICY), FRAME)
    # A branch object whose bytes are not what its ref says is never adopted.
    damaged = put(branch, "damaged", FRAME.head(7))
    other = put(branch, "other", FRAME.head(3))
    with branch.backend.reading(other.object) as path:
        branch.backend.put_file(Path(path), damaged.object)
    with pytest.raises(IntegrityError, match="nothing was published"):
        prod.adopt_object(damaged)
    assert prod.read_ref("damaged") is None


def test_concurrent_commits_of_one_entry_leave_one_complete_winner(root):
    store = store_for(root, "prod")
    values = [FRAME.head(n) for n in range(20, 36)]
    errors: list[BaseException] = []

    def commit(value):
        try:
            put(store_for(root, "prod"), "scores", value)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=commit, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ref, _ = store.read_ref("scores")
    winner = store.load(ref, POLICY)
    assert any(winner.equals(v) for v in values)
    # Every attempt is in history, and every version's object is complete and loads.
    history = store.history("scores")
    assert len(history) == len(values)
    for record in history:
        assert len(store.load(record, POLICY)) in range(20, 36)


def test_source_reads_are_pinned_to_the_recorded_version(root, tmp_path):
    local = store_for(root)
    path = tmp_path / "members.parquet"
    FRAME.to_parquet(path)
    key = local.source_key("movio/members.parquet")
    local.backend.put_file(path, key)
    version = local.backend.stat(key).version
    pd.testing.assert_frame_equal(local.read_source(key, version, "parquet"), FRAME)
    FRAME.head(2).to_parquet(path)
    local.backend.put_file(path, key)
    with pytest.raises(StorageError):
        local.read_source(key, version, "parquet")


def test_a_pickle_loads_only_when_its_entry_declares_pickle(root):
    local = store_for(root)
    ref = local.write_value({"a": {1, 2}}, {"entry": "blob"}, POLICY, "pickle")
    with pytest.raises(formats.UntrustedModelError, match="does not declare format: pickle"):
        local.load(ref, POLICY)
    assert local.load(ref, formats.LoadPolicy(allow_pickle=True)) == {"a": {1, 2}}
