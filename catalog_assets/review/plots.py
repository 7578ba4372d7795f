"""Distribution plots of a column, branch against production, as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

MAX_POINTS = 200_000
TOP_VALUES = 12


def distribution_png(name: str, base: pd.Series | None, head: pd.Series | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 2.6), dpi=90)
    axes = figure.add_subplot()
    sides = [("production", base, "#8c8c8c"), ("branch", head, "#1f77b4")]
    series = [s for _, s, _ in sides if s is not None]
    numeric = all(
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in series
    )
    if numeric:
        values = [s.dropna().to_numpy(dtype=float)[:MAX_POINTS] for s in series]
        joined = (
            np.concatenate([v for v in values if len(v)]) if any(len(v) for v in values) else []
        )
        bins = np.histogram_bin_edges(joined, bins=30) if len(joined) else 10
        for label, data, colour in sides:
            if data is not None:
                axes.hist(
                    data.dropna().to_numpy(dtype=float)[:MAX_POINTS],
                    bins=bins,
                    alpha=0.55,
                    label=label,
                    color=colour,
                    density=True,
                )
    else:
        counts = {
            label: data.astype(str).value_counts(normalize=True)
            for label, data, _ in sides
            if data is not None
        }
        order = pd.concat(counts.values()).groupby(level=0).max().nlargest(TOP_VALUES).index
        positions = np.arange(len(order))
        width = 0.4
        for offset, (label, _, colour) in enumerate(s for s in sides if s[1] is not None):
            shares = counts[label].reindex(order, fill_value=0)
            axes.bar(
                positions + offset * width, shares.to_numpy(), width, label=label, color=colour
            )
        axes.set_xticks(
            positions + width / 2, [str(v)[:14] for v in order], rotation=45, ha="right"
        )
    axes.set_title(name, fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
