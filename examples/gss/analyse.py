"""The worked example of docs/cross-sections.md: `python examples/gss/analyse.py`.

Reads the GSS frequency table (gss_counts.csv: wave = year, item, category, count), computes
every index per item and year with 1,000 multinomial bootstrap resamples (seed 0) without
expanding the counts, and writes

* examples/gss/gss_indices.csv: the index records (as `indices --counts` prints them);
* docs/figures/gss_<index>.svg: small multiples, one panel per item, the index over the years
  on a time axis with its 95% interval as a band;
* the tables of docs/cross-sections.md (first year against 2024, with 95% intervals for two
  independent samples) to stdout, as Markdown.

Needs no database and no plotting library (the SVG is written by hand).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analysis.stats.counts import count_index_table  # noqa: E402
from analysis.stats.cross_sections import period_differences  # noqa: E402
from analysis.stats.tables import Scale  # noqa: E402

HERE = Path(__file__).resolve().parent
FIGURES = ROOT / "docs" / "figures"
SHOWN = ("leik_d", "sd", "bimodality", "agreement_a")


def compute() -> pd.DataFrame:
    table = pd.read_csv(HERE / "gss_counts.csv")
    k = table.groupby("item")["category"].max()
    scales = {item: Scale(1, int(k[item])) for item in table["item"].unique()}
    frame = count_index_table(table, scales=scales, bootstrap=1000, seed=0).frame
    frame.to_csv(HERE / "gss_indices.csv", index=False)
    return frame


def first_to_last(frame: pd.DataFrame, index: str) -> pd.DataFrame:
    rows = []
    for item, cells in frame[(frame["index"] == index) & (frame["group"] == "all") & frame["item"].notna()].groupby(
            "item", sort=False):
        cells = cells.sort_values("wave")
        ends = cells.iloc[[0, -1]].rename(columns={"wave": "period"})
        diff = period_differences(ends).iloc[0]
        rows.append({"item": item, "first": int(ends["period"].iloc[0]), "value_first": ends["value"].iloc[0],
                     "ci_first": (ends["ci_low"].iloc[0], ends["ci_high"].iloc[0]),
                     "value_2024": ends["value"].iloc[1], "ci_2024": (ends["ci_low"].iloc[1], ends["ci_high"].iloc[1]),
                     "change": diff["difference"], "change_ci": (diff["ci_low"], diff["ci_high"])})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, index: str) -> str:
    lines = [f"| item | first year | {index} then (95% CI) | {index} 2024 (95% CI) | change (95% CI) | |",
             "|:--|--:|--:|--:|--:|:--|"]
    for row in table.sort_values("change").itertuples():
        low, high = row.change_ci
        verdict = "up" if low > 0 else ("down" if high < 0 else "no clear change")
        lines.append(f"| {row.item} | {row.first} | {row.value_first:.3f} ({row.ci_first[0]:.3f} to {row.ci_first[1]:.3f}) "
                     f"| {row.value_2024:.3f} ({row.ci_2024[0]:.3f} to {row.ci_2024[1]:.3f}) "
                     f"| {row.change:+.3f} ({low:+.3f} to {high:+.3f}) | {verdict} |")
    return "\n".join(lines)


def svg(frame: pd.DataFrame, index: str) -> str:
    """Small multiples: 4 x 4 panels, years 1972..2024 on x, the index with its band on y."""
    cells = frame[(frame["index"] == index) & (frame["group"] == "all") & frame["item"].notna()]
    items = list(dict.fromkeys(cells["item"]))
    low = float(np.nanmin(cells["ci_low"].fillna(cells["value"])))
    high = float(np.nanmax(cells["ci_high"].fillna(cells["value"])))
    pad = 0.05 * (high - low or 1)
    low, high = low - pad, high + pad
    width, height, columns = 220, 150, 4
    rows = -(-len(items) // columns)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{columns * width}" height="{rows * height + 30}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="8" y="18" font-size="14">GSS 1972-2024, {index} per year (unweighted counts), 95% bootstrap '
             f'band; y from {low:.2f} to {high:.2f} in every panel</text>']

    def x(year, left):
        return left + 30 + (year - 1972) / (2024 - 1972) * (width - 45)

    def y(value, top):
        return top + height - 25 - (value - low) / (high - low) * (height - 45)

    for n, item in enumerate(items):
        left, top = (n % columns) * width, 30 + (n // columns) * height
        data = cells[cells["item"] == item].sort_values("wave")
        years = data["wave"].to_numpy(int)
        parts.append(f'<rect x="{left + 30}" y="{top + 20}" width="{width - 45}" height="{height - 45}" '
                     f'fill="none" stroke="#ccc"/>')
        parts.append(f'<text x="{left + 32}" y="{top + 15}">{item}</text>')
        for year in (1972, 2000, 2024):
            parts.append(f'<text x="{x(year, left) - 12:.1f}" y="{top + height - 10}" fill="#666">{year}</text>')
        band = [f"{x(a, left):.1f},{y(b, top):.1f}" for a, b in zip(years, data["ci_high"], strict=True)] + \
               [f"{x(a, left):.1f},{y(b, top):.1f}" for a, b in zip(years[::-1], data["ci_low"].to_numpy()[::-1],
                                                                   strict=True)]
        parts.append(f'<polygon points="{" ".join(band)}" fill="#1f77b4" fill-opacity="0.2" stroke="none"/>')
        line = [f"{x(a, left):.1f},{y(b, top):.1f}" for a, b in zip(years, data["value"], strict=True)]
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        parts += [f'<circle cx="{x(a, left):.1f}" cy="{y(b, top):.1f}" r="1.8" fill="#1f77b4"/>'
                  for a, b in zip(years, data["value"], strict=True)]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    frame = compute()
    FIGURES.mkdir(parents=True, exist_ok=True)
    for index in SHOWN:
        (FIGURES / f"gss_{index}.svg").write_text(svg(frame, index), encoding="utf-8")
        print(f"\n### {index}\n\n{markdown(first_to_last(frame, index), index)}")


if __name__ == "__main__":
    main()
