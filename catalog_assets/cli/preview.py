"""``catalog preview [BRANCH] [--base REF] [--serve]``: a branch deployment on this machine.

A worktree of the branch merged with the current base (what its pull request's merge commit
holds), its own Dagster instance, branch storage: the changed entries run, everything else is read
from production, and the review report is written. ``--serve`` then starts the Dagster UI of that
branch deployment on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from catalog_assets.catalog.discovery import inspect_catalog
from catalog_assets.cli.diff import print_changes
from catalog_assets.errors import CatalogAssetsError
from catalog_assets.instance import prepare_instance
from catalog_assets.review import git
from catalog_assets.review.catalogs import catalog_at
from catalog_assets.review.changes import classify
from catalog_assets.settings import Settings, branch_slug

_CLOUD = (
    "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT",
    "DAGSTER_CLOUD_DEPLOYMENT_NAME",
    "DAGSTER_CLOUD_GIT_BRANCH",
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "preview", help="run a branch's changes against production and write the review report"
    )
    parser.add_argument("branch", nargs="?", help="the branch to preview (default: the current)")
    parser.add_argument("--base", help="what it merges into (default: the production branch)")
    parser.add_argument("--serve", action="store_true", help="then start the Dagster UI for it")
    parser.add_argument("--port", type=int, default=0, help="UI port with --serve (default: free)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    repository = git.toplevel(settings.catalog_dir)
    relative = settings.catalog_dir.resolve().relative_to(repository.resolve())
    branch = args.branch or git.current_branch(repository)
    base = args.base or settings.prod_branch
    if git.resolve(repository, branch) == git.resolve(repository, base):
        raise CatalogAssetsError(f"{branch} is {base}: there is nothing to preview")
    if branch == git.current_branch_or_none(repository) and git.has_uncommitted(
        repository, relative
    ):
        print(f"note: uncommitted changes under {relative}/ are not previewed (commit them first)")
    preview_dir = settings.home / ".catalog" / "previews" / branch_slug(branch)
    worktree = preview_dir / "checkout"
    print(f"merging {branch} into {base} in {worktree} ...", flush=True)
    head_commit = git.merged_worktree(repository, branch, base, worktree)
    base_commit = git.resolve(repository, base)
    with catalog_at(settings.catalog_dir, base_commit, settings.limits) as base_side:
        head, _ = inspect_catalog(worktree / relative, limits=settings.limits)
        print_changes(classify(base_side.catalog, head))
    sys.stdout.flush()

    env = {k: v for k, v in os.environ.items() if k not in (*_CLOUD, "CATALOG_DEPLOYMENT")}
    env.update(
        CATALOG_BRANCH=branch,
        CATALOG_DIR=str(worktree / relative),
        CATALOG_HOME=str(settings.home),
        CATALOG_STORAGE_URL=settings.deployment.storage_url,
        CATALOG_PREVIEW_REPORT=str(preview_dir / "report.html"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(worktree), os.environ.get("PYTHONPATH")])),
    )
    env["DAGSTER_HOME"] = str(prepare_instance(Settings.from_env(env)))
    summary = _run_preview(
        env, worktree, preview_dir, repository, relative, branch, base, base_commit, head_commit
    )
    print(f"markdown summary: {summary['markdown']}")
    print(f"report: {summary['report']}")
    if args.serve:
        return _serve(env, settings.home, args.port, branch)
    return 1 if summary["failed"] else 0


def _run_preview(
    env: dict[str, str],
    worktree: Path,
    preview_dir: Path,
    repository: Path,
    relative: Path,
    branch: str,
    base: str,
    base_commit: str,
    head_commit: str,
) -> dict:
    log_path = preview_dir / "preview.log"
    command = [
        sys.executable,
        "-m",
        "catalog_assets.orchestration.preview",
        "--repository",
        str(repository),
        "--base",
        base,
        "--base-commit",
        base_commit,
        "--branch",
        branch,
        "--head-commit",
        head_commit,
        "--catalog-relative",
        str(relative),
        "--report-dir",
        str(preview_dir),
    ]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, cwd=worktree, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        last = ""
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                last = line
            else:
                print(line, end="", flush=True)
        process.wait()
    if not last:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        raise CatalogAssetsError(
            f"the preview run failed (exit {process.returncode}); its log is {log_path}:\n"
            + "\n".join(tail)
        )
    return json.loads(last)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(env: dict[str, str], home: Path, port: int, branch: str) -> int:
    port = port or _free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    process = subprocess.Popen(
        [
            dagster,
            "dev",
            "-m",
            "catalog_assets.definitions",
            "-d",
            str(home),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=home,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/server_info", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    if process.poll() is not None:
        raise CatalogAssetsError(
            f"the Dagster UI for {branch} did not start (exit {process.returncode})"
        )
    print(f"Dagster UI for the branch deployment {branch}: {url} (Ctrl-C to stop)", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop `dagster dev` and everything it started (webserver, daemon, code server)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
