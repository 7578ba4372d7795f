"""The reviewer's view in the Dagster UI: `catalog preview --serve` starts the branch deployment's
UI, and the changed asset's page shows the comparison with production. Playwright drives Debian's
chromium (never a downloaded browser build); in CI it must run, never skip."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.production_repo import git
from tests.review.test_preview import leaf_code, make_branch

pytestmark = [pytest.mark.notebook, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


def test_the_changed_assets_page_shows_the_comparison_with_production(repo, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    branch = make_branch(repo, "browser/leaf", leaf_code)
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        serve = subprocess.Popen(
            [sys.executable, "-m", "catalog_assets.cli", "preview", branch, "--serve"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        url = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and serve.poll() is None:
            found = re.search(
                r"Dagster UI for the branch deployment .*: (http://\S+)", log.read_text()
            )
            if found:
                url = found[1]
                break
            time.sleep(0.5)
        assert url, log.read_text()[-3000:]

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/assets/churn_scores?view=events", wait_until="networkidle")
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()
            page.get_by_text("catalog/comparison").wait_for(timeout=60_000)
            body = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "asset.png"), full_page=True)
            browser.close()
        assert "Compared with production's version" in body
        assert "scored_at" in body and "added" in body
        assert "deployment\n\t\nbranch browser/leaf" in body or "branch browser/leaf" in body
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        git(repo, "checkout", "-q", "main")
    assert "catalog/comparison" in body
