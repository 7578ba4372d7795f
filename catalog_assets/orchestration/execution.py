"""Run a catalog notebook in a real Jupyter kernel through dagstermill's papermill engine.

This is the one module that relies on dagstermill internals (``dagstermill.engine``), kept here on
purpose; ``tests/orchestration/test_execution.py`` fails loudly if an upgrade changes them.

What we keep of dagstermill: its notebook client, which stops at the first failing cell, marks it in
the executed notebook, and always runs a teardown cell afterwards; its retry when a kernel dies at
start-up because two parallel kernels raced for a port. Parameters are papermill's way, not
dagstermill's: the ``parameters`` cell runs as written and declared ``params`` are injected after
it, and our setup cell goes before the first cell. What we change: dagstermill's teardown cell
imports dagstermill, and with it all of Dagster, into the kernel only to release job resources;
and its injected cell rebuilds the whole job (the code location) inside the kernel. Our kernels
never import Dagster: the setup cell names a spec file of what the step resolved, and our teardown
cell reports back through a small typed report. That keeps a step near the cost of bare papermill
and independent of catalog size (see BENCHMARKS.md).
"""

from __future__ import annotations

import collections
import copy
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from dagster import BetaWarning

with warnings.catch_warnings():
    # Importing dagstermill builds its (beta) in-kernel Manager, which we never use; its warning
    # would greet every code-location load.
    warnings.simplefilter("ignore", BetaWarning)
    from dagstermill.engine import DagstermillEngine, DagstermillNotebookClient
from nbclient.exceptions import DeadKernelError
from papermill.engines import papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from catalog_assets.catalog.notebooks import KERNEL_NAME, PARAMETERS_TAG
from catalog_assets.errors import redact

ENGINE_NAME = "catalog_assets"
SETUP_TAG = "injected-setup"
INJECTED_TAG = "injected-parameters"  # papermill's tag for the cell it inserts
TEARDOWN_TAG = "injected-teardown"  # the tag dagstermill's client gives its teardown cell
TEARDOWN_SOURCE = "import catalog_assets.kernel.api as __catalog_run\n__catalog_run._finish()\n"
_KERNEL_START_ATTEMPTS = 3


def _where(cell: int | None) -> str:
    return f"cell {cell}" if cell is not None else "a cell catalog_assets injected"


class NotebookFailed(RuntimeError):
    """The notebook did not run to its end. ``cell`` is the cell's position in the notebook as
    written (from 1; None for an injected cell)."""

    def __init__(self, message: str, cell: int | None):
        self.cell = cell
        super().__init__(message)


class CellRaised(NotebookFailed):
    """A cell raised; ``ename`` and ``evalue`` say what."""

    def __init__(self, error: PapermillExecutionError, cell: int | None):
        self.ename, self.evalue = error.ename, error.evalue
        super().__init__(f"{_where(cell)} raised {error.ename}: {error.evalue}", cell)


class KernelDied(NotebookFailed):
    """The kernel process ended while a cell ran: killed, out of memory, or exited by the code."""

    def __init__(self, cell: int | None):
        super().__init__(
            f"the kernel died while {_where(cell)} ran (it was killed, ran out of memory, or the "
            "notebook exited it, e.g. with os._exit or sys.exit in a subprocess)",
            cell,
        )


@dataclass(frozen=True)
class OutputCap:
    """How much stream output of one cell is kept: the first ``head`` and last ``tail`` lines,
    and at most ``bytes`` of the head; the middle is cut, with a line saying how much."""

    head: int = 800
    tail: int = 200
    bytes: int = 1_000_000

    def __post_init__(self) -> None:
        if self.head < 0 or self.tail < 1 or self.bytes < 1:
            raise ValueError(f"an output cap keeps head >= 0, tail >= 1 and bytes >= 1: {self}")


class _StreamCut:
    """One cell's stream output, cut to a head and a tail per stream (stdout, stderr).

    The kernel sends a stream in chunks that may end inside a line; the rest of that line, in
    the next chunk, goes where its start went and is not counted as a line of its own."""

    def __init__(self, cap: OutputCap):
        self.cap = cap
        self.kept: dict[str, list[int]] = {}  # name -> [lines, bytes]
        self.cut: dict[str, list[int]] = {}  # name -> [lines, bytes]
        self.tails: dict[str, collections.deque[str]] = {}
        self.open_line: dict[str, str] = {}  # name -> "head" or "tail": where an unended line went

    def take(self, name: str, text: str) -> str:
        """The part of a chunk of stream ``name`` kept in place (the head); the rest is cut or
        held back for the tail."""
        keep = []
        for piece in text.splitlines(keepends=True):
            ended = len(piece.splitlines()[0]) < len(piece)
            where = self.open_line.pop(name, None) or self._start_line(name, piece)
            if where == "head":
                kept = self.kept[name]
                room = max(self.cap.bytes - kept[1], 0)
                keep.append(piece[:room])
                kept[1] += len(piece[:room])
                piece = piece[room:]
                if piece:  # a line that never ends stops at the byte budget; the tail goes on
                    where = self._start_line(name, piece, head=False)
            if where == "tail":
                tail, limit = self.tails[name], self.cap.bytes // self.cap.tail
                line = tail[-1] + piece
                tail[-1] = line[:limit]
                self.cut[name][1] += max(len(line) - limit, 0)  # a long line's middle is cut
            if not ended:
                self.open_line[name] = where
        return "".join(keep)

    def _start_line(self, name: str, line: str, head: bool = True) -> str:
        """Where a new line goes: the head while it has room, else the tail, where it pushes out
        (and counts as cut) the oldest line once the tail is full."""
        kept = self.kept.setdefault(name, [0, 0])
        fits = kept[0] < self.cap.head and kept[1] + len(line) <= self.cap.bytes
        if head and fits and name not in self.cut:
            kept[0] += 1
            return "head"
        tail = self.tails.setdefault(name, collections.deque(maxlen=self.cap.tail))
        cut = self.cut.setdefault(name, [0, 0])
        if len(tail) == tail.maxlen:
            cut[0] += 1
            cut[1] += len(tail[0])
        tail.append("")
        return "tail"

    def endings(self) -> list[tuple[str, str]]:
        """For each cut stream: the line saying what was cut, then the kept tail."""
        found = []
        for name, (lines, size) in self.cut.items():
            tail = "".join(self.tails.get(name, ()))
            amount = (
                f"{size / 1e6:.1f} MB"
                if size >= 100_000
                else f"{size / 1e3:.1f} kB"
                if size >= 1_000
                else f"{size} bytes"
            )
            what = f"{lines:,} lines ({amount})" if lines else f"{amount} of a long line"
            marker = (
                f"\n[… {what} of {name} cut by catalog_assets; "
                f"the last {len(self.tails.get(name, ()))} follow. Set CATALOG_MAX_OUTPUT_LINES "
                "to keep more …]\n"
            )
            found.append((name, marker + tail))
        return found


def _scrubbed(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (an output's content) with every secret replaced, images left as they are."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key.startswith("image/") else _scrubbed(item, secrets)
            for key, item in value.items()
        }
    return value


class _CatalogNotebookClient(DagstermillNotebookClient):
    """dagstermill's client, which also caps each cell's stream output, removes secrets from
    every output before it is saved or logged, and remembers which cell is running (to name it
    if the kernel dies)."""

    output_cap: OutputCap | None = None
    progress: dict[str, Any] | None = None
    secrets: tuple[str, ...] = ()

    def execute_cell(self, cell, cell_index, *args, **kwargs):
        teardown = TEARDOWN_TAG in cell.metadata.get("tags", [])
        if teardown:
            cell.source = TEARDOWN_SOURCE
        elif self.progress is not None:
            self.progress["cell"] = cell_index  # the teardown that follows a death is not it
        cuts = self.__dict__.setdefault("_cuts", {})
        if self.output_cap is not None:
            cuts[cell_index] = _StreamCut(self.output_cap)
        try:
            return super().execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            cut = cuts.pop(cell_index, None)
            for name, text in cut.endings() if cut else []:
                ending = nbformat.v4.new_output("stream", name=name, text=text)
                cell.outputs.append(ending)
                self.log_output_message(ending)

    def output(self, outs, msg, display_id, cell_index):
        # A notebook printing its environment, or a library's error naming an endpoint with its
        # password, must not write them into the executed notebook or the step's logs.
        msg = {**msg, "content": _scrubbed(msg["content"], self.secrets)}
        cut = self.__dict__.get("_cuts", {}).get(cell_index)
        if cut is not None and msg["msg_type"] == "stream":
            content = msg["content"]
            kept = cut.take(content.get("name", "stdout"), content.get("text", ""))
            if not kept:
                return None
            msg = {**msg, "content": {**content, "text": kept}}
        return super().output(outs, msg, display_id, cell_index)


class _CatalogEngine(DagstermillEngine):
    """dagstermill's engine with our client (same argument handling as dagstermill's)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=120,
        execution_timeout=None,
        kernel_env=None,
        output_cap=None,
        progress=None,
        secrets=(),
        **kwargs,
    ):
        safe_kwargs = remove_args(["timeout", "startup_timeout", "input_path"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        # The kernel's environment is given explicitly: what it needs (endpoints, credentials)
        # reaches it there, never through a cell saved in the executed notebook.
        client = _CatalogNotebookClient(nb_man, **final_kwargs)
        client.output_cap, client.progress, client.secrets = output_cap, progress, secrets
        return client.execute(env=kernel_env)


def inject(
    nb: nbformat.NotebookNode, setup: str, parameters: str | None
) -> tuple[nbformat.NotebookNode, list[int | None]]:
    """A copy of ``nb`` that runs as papermill runs a parameterised notebook.

    ``setup`` goes before the first cell; ``parameters`` (if any) right after the cell tagged
    ``parameters``, which itself runs unchanged. Returns the copy and, for each of its cells, that
    cell's position in ``nb`` counted from 1 (None for an injected cell).
    """
    nb = copy.deepcopy(nb)
    positions: list[int | None] = list(range(1, len(nb.cells) + 1))
    if parameters is not None:
        index = next(
            i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in cell.metadata.get("tags", [])
        )
        cell = nbformat.v4.new_code_cell(source=parameters)
        cell.metadata["tags"] = [INJECTED_TAG]
        nb.cells.insert(index + 1, cell)
        positions.insert(index + 1, None)
    cell = nbformat.v4.new_code_cell(source=setup)
    cell.metadata["tags"] = [SETUP_TAG]
    nb.cells.insert(0, cell)
    positions.insert(0, None)
    # Python whatever the notebook says (VS Code writes none): the deployment's own kernel.
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3",
        "language": "python",
    }
    return nb, positions


def run_notebook(
    notebook_path: Path,
    setup: str,
    parameters: str | None,
    executed_path: Path,
    warn: Callable[[str], None],
    kernel_env: dict[str, str] | None = None,
    output_cap: OutputCap | None = None,
    secrets: tuple[str, ...] = (),
) -> None:
    """Execute the notebook with the injected cells; the executed copy is always written.

    Cell output streams to this process's stdout/stderr, i.e. the step's captured logs, cut to
    ``output_cap`` per cell there and in the executed notebook, and without ``secrets`` (nor the
    password of any URL) in either.

    Raises:
        NotebookFailed: a cell raised, or the kernel died (the executed notebook shows where).
    """
    papermill_engines.register(ENGINE_NAME, _CatalogEngine)
    nb, positions = inject(nbformat.read(notebook_path, as_version=4), setup, parameters)
    executed_path.parent.mkdir(parents=True, exist_ok=True)
    progress: dict[str, Any] = {"cell": None}
    for attempt in range(1, _KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(
                nb,
                str(executed_path),
                engine_name=ENGINE_NAME,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=True,
                stdout_file=sys.stdout,
                stderr_file=sys.stderr,
                start_timeout=120,
                kernel_env=kernel_env,
                output_cap=output_cap,
                progress=progress,
                secrets=secrets,
                # The kernel starts in the notebook's folder, as in Jupyter, without this process
                # changing its own working directory (papermill's `cwd` would).
                resources={"metadata": {"path": str(notebook_path.parent)}},
            )
            return
        except PapermillExecutionError as error:
            index = error.cell_index
            cell = positions[index] if 0 <= index < len(positions) else None
            raise CellRaised(error, cell) from None
        except DeadKernelError:
            index = progress["cell"]
            cell = positions[index] if index is not None and 0 <= index < len(positions) else None
            raise KernelDied(cell) from None
        except RuntimeError as error:
            if "Kernel died before replying" not in str(error) or attempt == _KERNEL_START_ATTEMPTS:
                raise
            warn(f"kernel failed to start (attempt {attempt}), retrying: {error}")
            time.sleep(1)
