"""Nothing a notebook reports can redirect a write: the step chooses the staging file and the
final location, hashes what it finds there itself, and refuses a report it does not expect."""

import nbformat
import pytest

from tests.helpers import digests, materialize

pytestmark = pytest.mark.notebook

FORGE_REPORT = """
import json, pathlib
import catalog_assets.kernel.api as api
_real_finish = api._finish
def _forged_finish():
    _real_finish()
    path = pathlib.Path(api._run.spec.report_path)
    report = json.loads(path.read_text())
    {change}
    path.write_text(json.dumps(report))
api._finish = _forged_finish
"""

REDIRECT_PRODUCT = """
import catalog_assets.kernel.api as api
spec = api._run.spec
other = spec.product.staging_path + ".elsewhere"
elsewhere = spec.product.model_copy(update={"staging_path": other})
api._run.spec = spec.model_copy(update={"product": elsewhere})
"""


def insert_before_output(notebook, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, notebook)


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (
            FORGE_REPORT.format(change='report["product"]["format"] = "pickle"'),
            "the kernel reported format 'pickle', which this entry does not allow",
        ),
        (
            FORGE_REPORT.format(
                change='report["product"]["staging_key"] = "prod/refs/genre_affinity.json"'
            ),
            "the kernel's report is not what this step expects",
        ),
        (REDIRECT_PRODUCT, "never handed back its product"),
    ],
    ids=["claims-pickle", "names-a-production-key", "writes-elsewhere"],
)
def test_a_tampering_branch_notebook_changes_nothing_in_production(
    catalog_env, catalog_dir, monkeypatch, tamper, error
):
    monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
    assert materialize("genre_affinity").success
    production = digests("prod/")

    monkeypatch.setenv("CATALOG_DEPLOYMENT", "branch")
    monkeypatch.setenv("CATALOG_BRANCH", "feature/tamper")
    insert_before_output(catalog_dir / "features" / "genre_affinity.ipynb", tamper)
    result = materialize("genre_affinity")

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert error in failure.step_failure_data.error.message
    assert digests("prod/") == production
    assert not [k for k in digests("branches/") if "/refs/" in k]
