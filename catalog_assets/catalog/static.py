"""Static checks of a notebook's code: parsed, never run.

What ``catalog validate`` can tell before anything runs: that each ``catalog.load("X")`` names a
declared input (with the closest name for a typo) and each declared input is loaded, that
``catalog.output`` is called, that top-level imports resolve in this environment (naming the package
to add), that nothing installs packages from inside the notebook, and that no source is read from
its file around ``catalog.load`` (where its version is recorded and its provider's terms apply).
IPython syntax (``%magic``, ``!shell``) is translated by IPython's own input transformer before
parsing.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from catalog_assets.catalog.problems import Problem, closest, did_you_mean

if TYPE_CHECKING:
    from catalog_assets.catalog.discovery import Entry
    from catalog_assets.catalog.schema import SourceSpec

API_MODULE = "catalog_assets.notebook"
API_FUNCTIONS = ("load", "output", "path")
#: Import names whose package on PyPI is named differently.
PACKAGE_OF = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "Bio": "biopython",
    "mpl_toolkits": "matplotlib",
}
_READERS = {
    "read_csv",
    "read_table",
    "read_parquet",
    "read_excel",
    "read_json",
    "read_feather",
    "read_fwf",
    "loadtxt",
    "genfromtxt",
    "load",
    "open",
}
_INSTALLERS = ("pip install", "pip3 install", "conda install", "mamba install", "uv pip install")


@dataclass(frozen=True)
class Finding:
    """One thing the code does that matters: where it is (cell number, line) and what."""

    cell: int
    line: int
    text: str


@dataclass
class NotebookFacts:
    loads: list[tuple[str, Finding]] = field(default_factory=list)
    dynamic_loads: list[Finding] = field(default_factory=list)
    outputs: list[Finding] = field(default_factory=list)
    imports: list[tuple[str, Finding]] = field(default_factory=list)
    installs: list[Finding] = field(default_factory=list)
    syntax_errors: list[Finding] = field(default_factory=list)
    local_reads: list[tuple[str, str, Finding]] = field(default_factory=list)
    #: Every file a reader call names by a literal path (an f-string's literal parts joined),
    #: with the argument as written.
    file_reads: list[tuple[str, str, Finding]] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)
    #: Names the ``parameters`` cell assigns.
    parameter_names: set[str] = field(default_factory=set)


def _to_python(source: str) -> str:
    """IPython syntax (magics, shell escapes) as the Python IPython runs for it."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def parse_cell(source: str) -> ast.Module:
    """A cell's syntax tree, reading IPython syntax too.

    Raises:
        SyntaxError: also for code nested beyond what the parser can hold, which Python reports
            as RecursionError or MemoryError.
    """
    try:
        try:
            return ast.parse(source)
        except SyntaxError:
            return ast.parse(_to_python(source))
    except (RecursionError, MemoryError) as error:
        raise SyntaxError("code nested too deeply for Python to read") from error


def analyse(cells: Iterable[tuple[int, str]], parameters_cell: int | None = None) -> NotebookFacts:
    """Facts about code cells given as (cell number, source)."""
    facts = NotebookFacts()
    api_names: set[str] = set()  # names bound to the API module (``catalog``)
    direct: dict[str, str] = {}  # names bound to API functions (``load``)
    for number, source in cells:
        try:
            tree = parse_cell(source)
        except SyntaxError as error:
            facts.syntax_errors.append(Finding(number, error.lineno or 0, error.msg))
            continue
        for node in tree.body:
            _bindings(node, api_names, direct)
            if isinstance(node, ast.Import | ast.ImportFrom) and not (
                isinstance(node, ast.ImportFrom) and node.level
            ):
                for module in _imported_modules(node):
                    facts.imports.append((module, Finding(number, node.lineno, module)))
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                facts.assigned.extend(names)
                if number == parameters_cell:
                    facts.parameter_names.update(names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                _call(node, number, api_names, direct, facts)
    return facts


def _bindings(node: ast.stmt, api_names: set[str], direct: dict[str, str]) -> None:
    if isinstance(node, ast.ImportFrom) and node.module == "catalog_assets":
        for alias in node.names:
            if alias.name == "notebook":
                api_names.add(alias.asname or alias.name)
    elif isinstance(node, ast.ImportFrom) and node.module == API_MODULE:
        for alias in node.names:
            if alias.name in API_FUNCTIONS:
                direct[alias.asname or alias.name] = alias.name
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == API_MODULE:
                api_names.add(alias.asname or API_MODULE)


def _imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module] if node.module else []


def _dotted(node: ast.expr) -> str | None:
    """A callee as dotted text: ``catalog.load``, ``get_ipython().system`` (a call base keeps
    its name with ``()``, which is how IPython's shell escapes and magics read once parsed)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call):
        base = _dotted(node.func)
        return f"{base}()" if base else None
    return None


def _call(
    node: ast.Call,
    number: int,
    api_names: set[str],
    direct: dict[str, str],
    facts: NotebookFacts,
) -> None:
    name = _dotted(node.func) or ""
    function = None
    if name in direct:
        function = direct[name]
    elif "." in name and name.rsplit(".", 1)[0] in api_names:
        function = name.rsplit(".", 1)[1]
    finding = Finding(number, node.lineno, name)
    if function in ("load", "path"):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            facts.loads.append((first.value, finding))
        else:
            facts.dynamic_loads.append(finding)
    elif function == "output":
        facts.outputs.append(finding)
    elif name.endswith((".system", ".getoutput", ".run_line_magic", ".run_cell_magic")):
        text = " ".join(
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        )
        if any(installer in text for installer in _INSTALLERS):
            facts.installs.append(Finding(number, node.lineno, text.strip()))
    elif name.rsplit(".", 1)[-1] in _READERS and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            target = first.value
            if not target.startswith(("http://", "https://", "s3://", "/")) and "." in target:
                facts.local_reads.append((name.rsplit(".", 1)[-1], target, finding))
        if (literal := _literal_text(first)) is not None:
            facts.file_reads.append((literal, ast.unparse(first), finding))


def _literal_text(node: ast.expr) -> str | None:
    """A string literal's text; an f-string's literal parts joined (``f"{root}/a.csv"`` gives
    ``/a.csv``); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def _reads_location(target: str, location: str) -> bool:
    """Whether a path names a source's file: its location, or a path ending with it."""
    path = target.replace("\\", "/")
    return path == location or path.endswith("/" + location)


def package_for(module: str) -> str:
    root = module.split(".")[0]
    return PACKAGE_OF.get(root, root.replace("_", "-"))


def unresolved_imports(modules: Iterable[str], repository: Path) -> set[str]:
    """Root modules that cannot be found in this environment (the repository on the path)."""
    missing = set()
    added = str(repository) not in sys.path
    if added:
        sys.path.insert(0, str(repository))
    try:
        for module in {m.split(".")[0] for m in modules}:
            if module == "__future__" or module in sys.builtin_module_names:
                continue
            try:
                if importlib.util.find_spec(module) is None:
                    missing.add(module)
            except (ImportError, ValueError):
                missing.add(module)
    finally:
        if added:
            sys.path.remove(str(repository))
    return missing


def _where(finding: Finding) -> str:
    return f"cell {finding.cell}, line {finding.line}"


def check_code(
    entry: Entry, entry_names: set[str], sources: dict[str, SourceSpec], repository: Path
) -> list[Problem]:
    """Every problem the code of ``entry``'s notebook shows without running it."""
    meta, notebook, yaml_file = entry.metadata, entry.notebook_path, entry.metadata_path
    parameters = entry.notebook.parameters_cell
    facts = analyse(
        entry.notebook.numbered_cells, parameters + 1 if parameters is not None else None
    )
    problems = [
        Problem(notebook, _where(f), f"syntax error: {f.text}") for f in facts.syntax_errors
    ]
    declared = set(meta.inputs)
    known = entry_names | set(sources)
    # A misspelt input is reported once, on the metadata file with its correction; the load of
    # the correct name and the never-loaded misspelling are the same mistake seen twice more.
    corrections = {closest(n, known) for n in declared - known}
    for name, finding in facts.loads:
        if name in declared or name in corrections:
            continue
        if name in entry_names or name in sources:
            message = (
                f"catalog.load({name!r}) reads {name!r}, which is not an input of this entry; "
                f"add it to inputs in {yaml_file.name}"
            )
        else:
            message = f"catalog.load({name!r}): no input, entry or source is named {name!r}" + (
                did_you_mean(name, declared) or did_you_mean(name, entry_names | set(sources))
            )
        problems.append(Problem(notebook, _where(finding), message))
    loaded = {name for name, _ in facts.loads}
    if not facts.dynamic_loads:
        for index, name in enumerate(meta.inputs):
            if name not in loaded and name in known:
                problems.append(
                    Problem(
                        yaml_file,
                        f"inputs.{index}",
                        f"{name!r} is declared but the notebook never loads it "
                        f"(catalog.load({name!r})); load it or remove it from inputs",
                        "warning",
                    )
                )
    for target, written, finding in facts.file_reads:
        for name, source in sorted(sources.items()):
            if _reads_location(target, source.location):
                governed = source.terms is not None
                problems.append(
                    Problem(
                        notebook,
                        _where(finding),
                        f"reads source {name!r} from its file ({written}); use "
                        f"catalog.load({name!r}) instead: only then does a run record the version "
                        "it read"
                        + (
                            " and apply its provider's data-usage terms (tenant rows, personal "
                            "columns)"
                            if governed
                            else ""
                        ),
                        "error" if governed else "warning",
                    )
                )
    if not facts.outputs:
        problems.append(
            Problem(
                notebook,
                "catalog.output",
                "the notebook never hands back its product; end it with catalog.output(value)",
            )
        )
    missing = unresolved_imports([m for m, _ in facts.imports], repository)
    reported: set[str] = set()
    for module, finding in facts.imports:
        root = module.split(".")[0]
        if root in missing and root not in reported:
            reported.add(root)
            problems.append(
                Problem(
                    notebook,
                    _where(finding),
                    f"import {module}: {root!r} is not installed in this environment; add "
                    f"{package_for(module)!r} to the notebooks extra in pyproject.toml "
                    "([project.optional-dependencies] notebooks) and run make install",
                )
            )
    for finding in facts.installs:
        problems.append(
            Problem(
                notebook,
                _where(finding),
                f"installs packages ({finding.text!r}), which would change the deployment's "
                "environment on every run: remove it, add the package to the notebooks extra in "
                "pyproject.toml ([project.optional-dependencies] notebooks) and run make install",
            )
        )
    if parameters is not None:
        for name in meta.params:
            if name not in facts.parameter_names:
                problems.append(
                    Problem(
                        yaml_file,
                        f"params.{name}",
                        f"{name!r} has no default in the parameters cell; a run sets it anyway, "
                        "but Jupyter will not",
                        "warning",
                    )
                )
    return problems
