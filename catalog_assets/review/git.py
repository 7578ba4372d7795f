"""Git, as review needs it: another ref's catalog, and a worktree of a branch merged with its base.

Nothing here checks anything out over the user's tree: another ref's files are read with
``git archive`` into a temporary folder, and a preview builds its merge in a worktree of its own.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from catalog_assets.errors import CatalogAssetsError

#: The identity of the merge commit a preview makes in its own worktree (never pushed).
MERGE_IDENTITY = ["-c", "user.name=catalog preview", "-c", "user.email=preview@catalog.invalid"]


class GitError(CatalogAssetsError):
    """A git operation a review needs failed; the message says which and why."""


def git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=120
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {' '.join(args[:2])}: {message[-1] if message else 'failed'}")
    return done


def toplevel(folder: Path) -> Path:
    """The root of the git repository holding ``folder``."""
    done = git(folder, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{folder} is not in a git repository; review compares git refs")
    return Path(done.stdout.strip())


def resolve(repository: Path, ref: str) -> str:
    """The commit a ref names."""
    done = git(repository, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise GitError(f"{ref!r} is not a branch, tag or commit of {repository}")
    return done.stdout.strip()


def current_branch(repository: Path) -> str:
    done = git(repository, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if done.returncode != 0:
        raise GitError("HEAD is not on a branch; name the branch to preview")
    return done.stdout.strip()


def current_branch_or_none(repository: Path) -> str | None:
    try:
        return current_branch(repository)
    except GitError:
        return None


def has_uncommitted(repository: Path, path: Path) -> bool:
    done = git(repository, "status", "--porcelain", "--", str(path), check=False)
    return bool(done.stdout.strip())


@contextlib.contextmanager
def tree_at(repository: Path, ref: str, path: Path) -> Iterator[Path]:
    """The files under ``path`` (relative to the repository) as ``ref`` holds them, extracted into
    a temporary folder; yields the folder's copy of ``path`` (empty if the ref does not have it)."""
    commit = resolve(repository, ref)
    relative = path.as_posix().strip("/") or "."
    done = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", commit, "--", relative],
        capture_output=True,
        timeout=120,
    )
    with tempfile.TemporaryDirectory(prefix="catalog-ref-") as scratch:
        target = Path(scratch)
        if done.returncode == 0:
            with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
                archive.extractall(target, filter="data")
        elif b"did not match any files" not in done.stderr:
            raise GitError(f"git archive {ref}: {done.stderr.decode(errors='replace').strip()}")
        folder = target / relative
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def merged_worktree(repository: Path, branch: str, base: str, target: Path) -> str:
    """A worktree at ``target`` holding ``branch`` merged into ``base`` (what a pull request's merge
    commit holds); returns its commit. An existing worktree at ``target`` is replaced.

    Raises:
        GitError: the branch conflicts with the base, naming the files.
    """
    base_commit, branch_commit = resolve(repository, base), resolve(repository, branch)
    remove_worktree(repository, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    git(repository, "worktree", "add", "--detach", "--force", str(target), base_commit)
    done = git(
        target,
        *MERGE_IDENTITY,
        "merge",
        "--no-ff",
        "--no-edit",
        "-m",
        f"Preview of {branch} merged into {base}",
        branch_commit,
        check=False,
    )
    if done.returncode != 0:
        conflicts = git(
            target, "diff", "--name-only", "--diff-filter=U", check=False
        ).stdout.split()
        git(target, "merge", "--abort", check=False)
        remove_worktree(repository, target)
        if conflicts:
            raise GitError(
                f"{branch} does not merge cleanly into {base}: conflicts in "
                f"{', '.join(conflicts)}; merge {base} into {branch} and resolve them first"
            )
        raise GitError(f"cannot merge {branch} into {base}: {done.stderr.strip() or done.stdout}")
    return git(target, "rev-parse", "HEAD").stdout.strip()


def remove_worktree(repository: Path, target: Path) -> None:
    if target.exists():
        git(repository, "worktree", "remove", "--force", str(target), check=False)
        shutil.rmtree(target, ignore_errors=True)
    git(repository, "worktree", "prune", check=False)
