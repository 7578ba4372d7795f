"""Which entries production must refresh and why, judged from production's refs."""

from catalog_assets.catalog.discovery import load_catalog
from catalog_assets.catalog.fingerprint import versions
from catalog_assets.orchestration.staleness import assess, input_slots, nodes_of
from catalog_assets.storage.refs import InputVersion, Ref

SOURCES = {
    "members": '"m1"',
    "transactions": '"t1"',
    "sessions": '"s1"',
    "films": '"f1"',
    "chains": '"c1"',
    "cinemas": '"x1"',
}


def refs_for(catalog, code_versions, sources=SOURCES, overrides=None) -> dict:
    """Refs, by (entry, partition), as if every entry had just been computed from the current
    versions."""
    refs: dict = {}
    partitions = nodes_of(catalog)
    for name in catalog.upstream_order():
        for partition in partitions[name]:
            inputs = {}
            for slot in input_slots(catalog, name, partition):
                if slot.name in catalog.sources:
                    version = sources[slot.name]
                    inputs[slot.label] = InputVersion(
                        kind="source", area="sources", key=slot.name, version=version
                    )
                else:
                    upstream = refs[(slot.name, slot.partition)]
                    inputs[slot.label] = InputVersion(
                        kind="entry", area="prod", key=slot.name, version=upstream.sha256
                    )
            tag = f"{name}{partition or ''}"
            refs[(name, partition)] = Ref(
                entry=name,
                partition=partition,
                object=f"objects/{name}/{tag}.parquet",
                sha256=(tag * 64)[:64],
                format="parquet",
                size=1,
                code_version=code_versions[name],
                inputs=inputs,
                deployment="prod",
                area="prod",
            )
    for node, update in (overrides or {}).items():
        node = node if isinstance(node, tuple) else (node, None)
        refs[node] = refs[node].model_copy(update=update)
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
    node = ("member_visit_features", None)
    refs[node] = refs[node].model_copy(update={"sha256": "f" * 64})
    state = assess(catalog, code, refs, SOURCES)
    assert set(state.stale) == {"churn_model", "churn_scores"}
    assert all(s.cause == "inputs" for s in state.stale.values())


def test_an_entry_production_never_had_is_new(catalog_dir):
    catalog, code = setup(catalog_dir)
    refs = refs_for(catalog, code)
    del refs[("churn_scores", None)]
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


def test_tenant_partitions_are_judged_one_by_one_and_run_in_dependency_order(
    governed_catalog_dir,
):
    catalog, code = setup(governed_catalog_dir)
    refs = refs_for(catalog, code)
    assert not assess(catalog, code, refs, SOURCES).stale
    # The partitions each entry's terms let it run for: harbour forbids marketing use of its
    # members' visits; the pooled model has one product.
    assert nodes_of(catalog) == {
        "member_visit_features": ["starlight", "roxy", "harbour"],
        "genre_affinity": ["starlight", "roxy"],
        "churn_model": [None],
        "churn_scores": ["starlight", "roxy"],
    }
    # The pooled model reads the partitions of the chains that allow pooled training only.
    labels = [slot.label for slot in input_slots(catalog, "churn_model", None)]
    assert labels == ["member_visit_features[starlight]", "member_visit_features[harbour]"]

    refs = refs_for(
        catalog, code, overrides={("member_visit_features", "roxy"): {"code_version": "0"}}
    )
    state = assess(catalog, code, refs, SOURCES)
    assert set(state.stale) == {"member_visit_features[roxy]"}
    assert state.downstream == {"churn_scores[roxy]"}  # roxy is not in the pooled model
    # One run holds one partitions definition's entries: the scores (whose partitions are the
    # tenants allowing marketing) wait for the features' run.
    assert [(b.partition, b.entries) for b in state.batches] == [
        ("roxy", ("member_visit_features",))
    ]
    assert state.waiting == {"churn_scores[roxy]"}

    # Starlight's features change: the pooled model waits for them, and the scores of every
    # chain wait for the model; each tick runs what no other batch is about to change.
    refs = refs_for(
        catalog, code, overrides={("member_visit_features", "starlight"): {"code_version": "0"}}
    )
    state = assess(catalog, code, refs, SOURCES)
    assert [(b.partition, b.entries) for b in state.batches] == [
        ("starlight", ("member_visit_features",))
    ]
    assert state.waiting == {"churn_model", "churn_scores[starlight]", "churn_scores[roxy]"}


def test_a_new_tenant_makes_the_pooled_entries_stale(governed_catalog_dir):
    catalog, code = setup(governed_catalog_dir)
    refs = refs_for(catalog, code)
    tenants = governed_catalog_dir / "tenants.yaml"
    tenants.write_text(tenants.read_text() + "  - id: lumiere\n    name: Cinéma Lumière\n")
    catalog, code = setup(governed_catalog_dir)
    state = assess(catalog, code, refs, SOURCES)
    new = {label for label, stale in state.stale.items() if stale.cause == "new"}
    assert new == {
        f"{e}[lumiere]" for e in ("member_visit_features", "genre_affinity", "churn_scores")
    }
    # Its code version covers the tenants it pools: a new chain is a new model.
    assert state.stale["churn_model"].cause == "code"
