"""Which entries production must refresh and why, judged from production's refs."""

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.orchestration.staleness import assess
from catalog_assets.storage.refs import InputVersion, Ref

SOURCES = {
    "members": '"m1"',
    "transactions": '"t1"',
    "sessions": '"s1"',
    "films": '"f1"',
    "chains": '"c1"',
    "cinemas": '"x1"',
}


def refs_for(catalog, code_versions, sources=SOURCES, overrides=None) -> dict[str, Ref]:
    """Refs as if every entry had just been computed from the current versions."""
    refs: dict[str, Ref] = {}
    for name in catalog.upstream_order():
        entry = catalog.entries[name]
        inputs = {}
        for i in entry.metadata.inputs:
            if i in catalog.sources:
                inputs[i] = InputVersion(kind="source", area="sources", key=i, version=sources[i])
            else:
                inputs[i] = InputVersion(kind="entry", area="prod", key=i, version=refs[i].sha256)
        refs[name] = Ref(
            entry=name,
            object=f"objects/{name}/{name * 3}.parquet",
            sha256=(name * 64)[:64],
            format="parquet",
            size=1,
            code_version=code_versions[name],
            inputs=inputs,
            deployment="prod",
            area="prod",
        )
    for name, update in (overrides or {}).items():
        refs[name] = refs[name].model_copy(update=update)
    return refs


def setup(catalog_dir):
    catalog = load_catalog(catalog_dir)
    code = {n: versions(e).code for n, e in catalog.entries.items()}
    return catalog, code


def test_nothing_is_stale_when_production_holds_what_the_code_and_inputs_make(catalog_dir):
    catalog, code = setup(catalog_dir)
    state = assess(catalog, code, refs_for(catalog, code), SOURCES)
    assert not state.stale and not state.downstream and state.key == ""


def test_a_code_change_makes_the_entry_and_its_downstream_stale(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code, overrides={"genre_affinity": {"code_version": "0ld"}})
    state = assess(catalog, code, refs, SOURCES)
    assert {n: s.cause for n, s in state.stale.items()} == {"genre_affinity": "code"}
    assert state.downstream == {"churn_scores"}
    assert state.selection == ["churn_scores", "genre_affinity"]
    assert "code changed (0ld → " in state.stale["genre_affinity"].reasons[0]


def test_a_new_source_version_makes_its_readers_stale(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code)
    state = assess(catalog, code, refs, {**SOURCES, "films": '"f2"'})
    assert {n: s.cause for n, s in state.stale.items()} == {"genre_affinity": "inputs"}
    assert state.stale["genre_affinity"].reasons == ('source films changed ("f1" → "f2")',)


def test_an_upstream_version_production_holds_now_makes_its_users_stale(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code)
    refs["member_visit_features"] = refs["member_visit_features"].model_copy(
        update={"sha256": "f" * 64}
    )
    state = assess(catalog, code, refs, SOURCES)
    assert set(state.stale) == {"churn_model", "churn_scores"}
    assert all(s.cause == "inputs" for s in state.stale.values())


def test_an_entry_production_never_had_is_new(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code)
    del refs["churn_scores"]
    state = assess(catalog, code, refs, SOURCES)
    assert {n: s.cause for n, s in state.stale.items()} == {"churn_scores": "new"}


def test_the_run_key_is_the_same_for_the_same_state_and_changes_with_it(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code, overrides={"genre_affinity": {"code_version": "0ld"}})
    first = assess(catalog, code, refs, SOURCES).key
    assert first == assess(catalog, code, refs, SOURCES).key
    assert first != assess(catalog, code, refs, {**SOURCES, "films": '"f2"'}).key
    changed = dict(code, genre_affinity="n3w")
    assert first != assess(catalog, changed, refs, SOURCES).key
