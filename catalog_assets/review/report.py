"""The review report: one self-contained HTML page (viewable offline) and a Markdown summary.

For each changed entry: its change class, a metadata diff, a side-by-side diff of its code cells
(outputs and ids ignored), the executed notebook rendered, and for datasets a data diff against
production (schema, rows by key, value match rates, column statistics, distribution plots); for
models metric deltas and how often both models agree; and check results on both sides.
"""

from __future__ import annotations

import base64
import difflib
import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog_assets.review.changes import Change, SourceChange
from catalog_assets.review.datadiff import FrameDiff
from catalog_assets.review.modeldiff import ModelDiff
from catalog_assets.storage.refs import CheckResult, Ref


@dataclass
class EntryReview:
    change: Change
    #: What the preview did: "materialized in run …", "reused …", "checks re-run …", "nothing".
    action: str
    production: Ref | None = None
    branch: Ref | None = None
    metadata_diff: list[tuple[str, Any, Any]] = field(default_factory=list)
    code_base: list[str] = field(default_factory=list)
    code_head: list[str] = field(default_factory=list)
    executed_html: str | None = None
    frame_diff: FrameDiff | None = None
    plots: dict[str, bytes] = field(default_factory=dict)
    model_diff: ModelDiff | None = None
    checks_production: list[CheckResult] = field(default_factory=list)
    checks_branch: list[CheckResult] = field(default_factory=list)
    purpose: str | None = None
    tenancy: str | None = None
    error: str | None = None
    #: The tenant of this partition of a per-tenant entry (one review per partition).
    partition: str | None = None

    @property
    def title(self) -> str:
        name = self.change.name
        return name if self.partition is None else f"{name}[{self.partition}]"


@dataclass
class Review:
    branch: str
    base: str
    base_commit: str
    head_commit: str
    entries: list[EntryReview] = field(default_factory=list)
    sources: list[SourceChange] = field(default_factory=list)
    unchanged: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin-top:1.2rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.badge{display:inline-block;border-radius:10px;padding:1px 9px;
font-size:12px;color:#fff;background:#6e7781}.new{background:#1a7f37}.code{background:#0969da}
.stale{background:#8250df}.checks{background:#bf8700}.metadata{background:#6e7781}
.removed{background:#cf222e}.invalid{background:#cf222e}.num{text-align:right}
.plus{color:#1a7f37}.minus{color:#cf222e}.muted{color:#6e7781}details{margin:.5rem 0}
summary{cursor:pointer;font-weight:600}.plots img{margin:4px;border:1px solid #d0d7de}
table.diff{font-family:ui-monospace,monospace;font-size:11px;max-width:100%}.diff_add{background:#dafbe1}
.diff_chg{background:#fff8c5}.diff_sub{background:#ffebe9}.diff_header{background:#f6f8fa}
td.diff_header{text-align:right}.notebook{border:1px solid #d0d7de;padding:.5rem;overflow:auto}
.notebook pre{white-space:pre-wrap}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return _e(value)


def _cell(value: Any) -> str:
    """A value of a data sample: floats to 6 significant digits, identifiers as they are."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return _e(value)


def _delta(base: float | int | None, head: float | int | None) -> str:
    if base is None or head is None:
        return ""
    delta = head - base
    if delta == 0:
        return '<span class="muted">±0</span>'
    css = "plus" if delta > 0 else "minus"
    shown = f"{delta:+,}" if isinstance(delta, int) else f"{delta:+.4g}"
    return f'<span class="{css}">{shown}</span>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _code_diff(review: EntryReview) -> str:
    if review.code_base == review.code_head:
        return ""

    def lines(cells: list[str]) -> list[str]:
        out: list[str] = []
        for number, source in enumerate(cells, 1):
            out.append(f"# ── code cell {number} ──")
            out.extend(source.splitlines())
        return out

    table = difflib.HtmlDiff(tabsize=4, wrapcolumn=72).make_table(
        lines(review.code_base), lines(review.code_head), "production", "branch", True, 3
    )
    return f"<h3>Code cells</h3>{table}"


def _frame_section(diff: FrameDiff, plots: dict[str, bytes]) -> str:
    parts = ["<h3>Data against production</h3>"]
    rows = [
        [
            "rows",
            _number(diff.rows_base),
            _number(diff.rows_head),
            _delta(diff.rows_base, diff.rows_head),
        ]
    ]
    parts.append(_table(["", "production", "branch", "change"], rows))
    schema = (
        [['<span class="plus">added</span>', _e(c), _e(t)] for c, t in diff.added_columns]
        + [['<span class="minus">removed</span>', _e(c), _e(t)] for c, t in diff.removed_columns]
        + [["retyped", _e(c), f"{_e(a)} → {_e(b)}"] for c, a, b in diff.retyped_columns]
    )
    if schema:
        parts.append("<h3>Schema changes</h3>" + _table(["", "column", "type"], schema))
    if diff.key_note:
        parts.append(f'<p class="muted">Rows not compared by key: {_e(diff.key_note)}</p>')
    elif diff.key:
        parts.append(
            f"<h3>Rows by key ({_e(', '.join(diff.key))})</h3>"
            + _table(
                ["added", "removed", "changed", "unchanged"],
                [
                    [
                        _number(diff.rows_added),
                        _number(diff.rows_removed),
                        _number(diff.rows_changed),
                        _number(diff.rows_same),
                    ]
                ],
            )
        )
        rates = [[_e(c), f"{r:.2%}"] for c, r in diff.match_rates.items()]
        if rates:
            parts.append(
                "<h3>Values equal on matched rows</h3>" + _table(["column", "match"], rates)
            )
        if diff.changed_sample is not None and len(diff.changed_sample):
            sample = diff.changed_sample
            parts.append(
                "<h3>Sample of changed rows</h3>"
                + _table(
                    [str(c) for c in sample.columns],
                    [[_cell(v) for v in row] for row in sample.itertuples(index=False)],
                )
            )
    stat_rows = []
    for name, (base, head) in diff.stats.items():

        def cells(s: Any) -> list[str]:
            if s is None:
                return ["—"] * 4
            return [f"{s.null_rate:.1%}", _number(s.distinct), _number(s.mean), _number(s.q50)]

        stat_rows.append([_e(name), *cells(base), *cells(head)])
    if stat_rows:
        parts.append(
            "<h3>Columns</h3>"
            + _table(
                [
                    "column",
                    "nulls (prod)",
                    "distinct",
                    "mean",
                    "median",
                    "nulls (branch)",
                    "distinct",
                    "mean",
                    "median",
                ],
                stat_rows,
            )
        )
    if plots:
        images = "".join(
            f'<img alt="{_e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            for name, png in plots.items()
        )
        parts.append(
            f'<h3>Distributions, branch against production</h3><div class="plots">{images}</div>'
        )
    return "".join(parts)


def _model_section(diff: ModelDiff) -> str:
    rows = [[_e(n), _number(a), _number(b), _delta(a, b)] for n, (a, b) in diff.metrics.items()]
    parts = ["<h3>Model against production</h3>"]
    if rows:
        parts.append(_table(["metric", "production", "branch", "change"], rows))
    if diff.agreement is not None:
        parts.append(
            f"<p>Both models scored {_number(diff.scored_rows)} rows of {_e(diff.scored_on)}: "
            f"{_e(diff.agreement_kind)} {diff.agreement:.2%}.</p>"
        )
    elif diff.note:
        parts.append(f'<p class="muted">Predictions not compared: {_e(diff.note)}</p>')
    return "".join(parts)


def _checks_section(review: EntryReview) -> str:
    names = [c.name for c in review.checks_branch] + [
        c.name
        for c in review.checks_production
        if c.name not in {x.name for x in review.checks_branch}
    ]
    if not names:
        return ""
    production = {c.name: c for c in review.checks_production}
    branch = {c.name: c for c in review.checks_branch}

    def cell(result: CheckResult | None) -> str:
        if result is None:
            return '<span class="muted">—</span>'
        mark = "passed" if result.passed else '<b class="minus">FAILED</b>'
        return f"{mark}: {_e(result.message)}"

    rows = [[_e(n), cell(production.get(n)), cell(branch.get(n))] for n in names]
    return "<h3>Checks</h3>" + _table(["check", "production", "branch"], rows)


def _entry_section(review: EntryReview) -> str:
    change = review.change
    parts = [
        f'<h2 id="{_e(review.title)}">{_e(review.title)} '
        f'<span class="badge {_e(change.kind)}">{_e(change.kind)}</span></h2>',
        f"<p>{_e(change.describe())}. <span class='muted'>{_e(review.action)}</span></p>",
    ]
    if review.error:
        parts.append(f'<p class="minus"><b>Failed:</b> {_e(review.error)}</p>')
    if review.purpose or review.tenancy:
        parts.append(
            f"<p>purpose: {_e(review.purpose or '—')}, tenancy: {_e(review.tenancy or '—')}</p>"
        )
    if review.metadata_diff:
        rows = [
            [_e(f), f"<code>{_e(a)}</code>", f"<code>{_e(b)}</code>"]
            for f, a, b in review.metadata_diff
        ]
        parts.append("<h3>Metadata</h3>" + _table(["field", "production", "branch"], rows))
    parts.append(_code_diff(review))
    if review.frame_diff is not None:
        parts.append(_frame_section(review.frame_diff, review.plots))
    if review.model_diff is not None:
        parts.append(_model_section(review.model_diff))
    parts.append(_checks_section(review))
    if review.executed_html:
        parts.append(
            "<details><summary>Executed notebook</summary>"
            f'<div class="notebook">{review.executed_html}</div></details>'
        )
    return "".join(parts)


def render_html(review: Review, extra_css: str = "") -> str:
    counts: dict[str, int] = {}
    for item in review.entries:
        counts[item.change.kind] = counts.get(item.change.kind, 0) + 1
    summary_rows = [
        [
            f'<a href="#{_e(i.title)}">{_e(i.title)}</a>',
            f'<span class="badge {_e(i.change.kind)}">{_e(i.change.kind)}</span>',
            _e(i.action),
        ]
        for i in review.entries
    ]
    sources = "".join(
        f"<li>source {_e(s.name)}: {_e(s.kind)}"
        + (f" ({_e(', '.join(s.what))})" if s.what else "")
        + "</li>"
        for s in review.sources
    )
    body = [
        f"<h1>Preview of <code>{_e(review.branch)}</code> merged into "
        f"<code>{_e(review.base)}</code></h1>",
        f'<p class="muted">merge commit {_e(review.head_commit[:12])} on base '
        f"{_e(review.base_commit[:12])}; generated {review.created_at:%Y-%m-%d %H:%M UTC}; "
        f"{review.unchanged} entries unchanged</p>",
        _table(["entry", "change", "in this preview"], summary_rows)
        if summary_rows
        else "<p>No entry changes.</p>",
        f"<ul>{sources}</ul>" if sources else "",
        *(_entry_section(item) for item in review.entries),
    ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Preview of {_e(review.branch)}</title><style>{_CSS}{extra_css}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def render_markdown(review: Review, report_path: str) -> str:
    """A summary fit for a pull-request comment."""
    lines = [
        f"### Preview of `{review.branch}` merged into `{review.base}` "
        f"(`{review.head_commit[:8]}`)",
        "",
    ]
    if not review.entries:
        lines.append("No catalog entry changes.")
    else:
        lines += [
            "| entry | change | rows (production → branch) | columns | metrics | checks |",
            "|---|---|---|---|---|---|",
        ]
        for item in review.entries:
            lines.append(
                f"| `{item.title}` | {item.change.kind} | {_md_rows(item)} | "
                f"{_md_columns(item)} | {_md_metrics(item)} | {_md_checks(item)} |"
            )
    for source in review.sources:
        lines.append(f"- source `{source.name}`: {source.kind}")
    lines += ["", f"{review.unchanged} entries unchanged. Full report: `{report_path}`"]
    return "\n".join(lines) + "\n"


def _md_rows(item: EntryReview) -> str:
    diff = item.frame_diff
    if diff is None:
        return "—"
    delta = diff.rows_head - diff.rows_base
    shown = f"{diff.rows_base:,} → {diff.rows_head:,} ({delta:+,})"
    if diff.rows_changed is not None and diff.key:
        counts = [
            f"{count:,} {label}"
            for count, label in (
                (diff.rows_changed, "changed"),
                (diff.rows_added, "added"),
                (diff.rows_removed, "removed"),
            )
            if count
        ]
        shown += f"; by {', '.join(diff.key)}: {', '.join(counts) or 'no row differs'}"
    return shown


def _md_columns(item: EntryReview) -> str:
    """Columns added, removed or retyped, and columns whose values differ row by row."""
    diff = item.frame_diff
    if diff is None:
        return "—"
    parts = [f"+{c}" for c, _ in diff.added_columns] + [f"−{c}" for c, _ in diff.removed_columns]
    parts += [f"{c}: {a}→{b}" for c, a, b in diff.retyped_columns]
    parts += [f"{name} {rate:.1%} equal" for name, rate in diff.match_rates.items() if rate < 1.0]
    return ", ".join(parts) or "unchanged"


def _md_metrics(item: EntryReview) -> str:
    diff = item.model_diff
    if diff is None:
        return "—"
    shown = []
    for name, (a, b) in diff.metrics.items():
        if a is not None and b is not None:
            shown.append(f"{name} {a:.4g} → {b:.4g} ({b - a:+.3g})")
        else:
            shown.append(f"{name} {a if a is not None else '—'} → {b if b is not None else '—'}")
    return "; ".join(shown) or "—"


def _md_checks(item: EntryReview) -> str:
    results = item.checks_branch or item.checks_production
    if not results:
        return "—"
    passed = sum(1 for r in results if r.passed)
    failed = [r.name for r in results if not r.passed]
    return f"{passed}/{len(results)} passed" + (f" (failed: {', '.join(failed)})" if failed else "")
