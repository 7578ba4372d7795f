"""The comparison a branch's materialization carries, so a reviewer sees it in the Dagster UI.

Built from the two refs alone (row count, columns and metrics are recorded in each), so it costs
the step nothing beyond reading production's ref. No Dagster imports.
"""

from __future__ import annotations

from catalog_assets.storage.refs import Ref


def _columns(ref: Ref) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in ref.facts.get("columns") or []}


def comparison_markdown(branch: Ref, production: Ref | None) -> str:
    """Markdown tables: schema changes, row-count delta, metric deltas against production."""
    if production is None:
        return "**New:** production has no version of this entry to compare with."
    if production.sha256 == branch.sha256:
        return "**Identical** to production's version (same bytes)."
    lines = [f"Compared with production's version `{production.short}`.", ""]
    rows_before, rows_after = production.facts.get("row_count"), branch.facts.get("row_count")
    if rows_before is not None and rows_after is not None:
        lines += [
            "| rows | production | branch | change |",
            "|---|---:|---:|---:|",
            f"| rows | {rows_before:,} | {rows_after:,} | {rows_after - rows_before:+,} |",
            "",
        ]
    before, after = _columns(production), _columns(branch)
    schema = [f"| added | `{c}` | {t} |" for c, t in after.items() if c not in before]
    schema += [f"| removed | `{c}` | {t} |" for c, t in before.items() if c not in after]
    schema += [
        f"| retyped | `{c}` | {before[c]} → {t} |"
        for c, t in after.items()
        if c in before and before[c] != t
    ]
    if schema:
        lines += ["| schema | column | type |", "|---|---|---|", *schema, ""]
    elif before or after:
        lines += ["Schema unchanged.", ""]
    metrics = sorted(set(production.metrics) | set(branch.metrics))
    if metrics:
        lines += ["| metric | production | branch | change |", "|---|---:|---:|---:|"]
        for name in metrics:
            a, b = production.metrics.get(name), branch.metrics.get(name)
            change = f"{b - a:+.4g}" if a is not None and b is not None else ""
            shown_a = f"{a:.4g}" if a is not None else "—"
            shown_b = f"{b:.4g}" if b is not None else "—"
            lines.append(f"| {name} | {shown_a} | {shown_b} | {change} |")
    return "\n".join(lines).strip()
