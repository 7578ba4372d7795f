"""Every command turns a user error into one line naming the problem and exit code 2; a
traceback only with --debug. Each case runs the real command in its own process."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.environment import synthetic_catalog
from tests.helpers import catalog_cli, copy_sample_catalog
from tests.production_repo import GIT

MISTAKES = {
    "storage url of no known kind": (
        ["sample-data", "--storage-url", "ftp://example.com/x"],
        "use a local path, file:// or s3://",
    ),
    "no members": (["sample-data", "--members", "0"], "--members"),
    "negative members": (["sample-data", "--members", "-5"], "--members"),
    "unwritable storage": (["sample-data", "--storage-url", "/proc/catalog"], "/proc/catalog"),
    "unknown entry": (["history", "no_such_entry"], "no_such_entry"),
    "unknown version": (["rollback", "churn_model", "--to", "abc123"], "abc123"),
    "negative keep-days": (["gc", "--keep-days", "-1"], "--keep-days"),
    "unknown branch": (["preview", "no/such-branch"], "no/such-branch"),
    "unknown git ref": (["diff", "--base", "no-such-ref"], "no-such-ref"),
    "branch policy without branch": (["policy", "branch"], "--branch"),
    "entry name not an identifier": (["new", "2-bad", "--group", "demo"], "2-bad"),
    "notebook that does not exist": (["adopt", "/nonexistent/x.ipynb", "--group", "g"], "x.ipynb"),
    "no UI to reload": (["reload", "--url", "http://127.0.0.1:9"], "127.0.0.1:9"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every mistake run once, in parallel, in a scratch project (a git repository)."""
    project = tmp_path_factory.mktemp("project")
    copy_sample_catalog(project / "notebooks")
    for command in (["init", "-q", "-b", "main"], ["add", "."], [*GIT, "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(project), *command], check=True)
    env = {
        **os.environ,
        "CATALOG_HOME": str(project),
        "CATALOG_STORAGE_URL": str(project / "storage"),
        "CATALOG_DEPLOYMENT": "local",
        "GIT_CEILING_DIRECTORIES": str(project.parent),
    }
    env.pop("CATALOG_DIR", None)
    with ThreadPoolExecutor(4) as pool:
        done = pool.map(lambda item: catalog_cli(env, *item[1][0], timeout=120), MISTAKES.items())
        return dict(zip(MISTAKES, done, strict=True))


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_one_line_and_exit_code_2(outcomes, mistake):
    argv, named = MISTAKES[mistake]
    done = outcomes[mistake]
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[0].startswith(f"catalog {argv[0]}: ") and named in lines[0], lines[0]


def test_debug_shows_the_traceback(tmp_path):
    env = {**os.environ, "CATALOG_STORAGE_URL": str(tmp_path)}
    done = catalog_cli(
        env, "--debug", "sample-data", "--storage-url", "ftp://example.com/x", timeout=120
    )
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    # `catalog validate | head -c 10` on a catalog with more to say than a pipe holds: the
    # command stops quietly when its reader goes away.
    catalog = synthetic_catalog(tmp_path / "catalog", 1000)  # a warning per entry
    shell = f"{sys.executable} -m catalog_assets.cli validate --catalog {catalog} | head -c 10"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert len(done.stdout) == 10
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
