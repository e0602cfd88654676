"""Pure Plotly figure builders: `<what>_figure(frame) -> go.Figure`. No Django import.

Figures are built here and rendered by plotly.js served from our own static files.
"""

import pandas as pd
import plotly.graph_objects as go

#: Colour-blind-safe palette (Okabe & Ito 2008), one colour per line.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _band_colour(hex_colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def trend_figure(frame: pd.DataFrame, *, title: str = "", intervention_wave: int | None = None) -> go.Figure:
    """One index over waves: a line per group with its 95% interval as a band.

    `frame` has columns wave, group, value, ci_low, ci_high (one index, one item or pooled).
    Rows with a missing value leave a gap; groups keep the order in which they first appear.
    """
    figure = go.Figure()
    for position, (group, rows) in enumerate(frame.groupby("group", sort=False)):
        rows = rows.sort_values("wave")
        colour = PALETTE[position % len(PALETTE)]
        has_band = rows["ci_low"].notna().any() and rows["ci_high"].notna().any()
        if has_band:
            figure.add_trace(go.Scatter(
                x=list(rows["wave"]) + list(rows["wave"][::-1]),
                y=list(rows["ci_high"]) + list(rows["ci_low"][::-1]),
                fill="toself", fillcolor=_band_colour(colour), line={"width": 0},
                hoverinfo="skip", showlegend=False, legendgroup=str(group), name=f"{group} 95% CI",
            ))
        figure.add_trace(go.Scatter(
            x=rows["wave"], y=rows["value"], mode="lines+markers", name=str(group), legendgroup=str(group),
            line={"color": colour}, connectgaps=False,
        ))
    if intervention_wave is not None:
        figure.add_vline(x=intervention_wave, line_dash="dash", line_color="#555",
                         annotation_text="intervention", annotation_position="top left")
    figure.update_layout(title=title or None, xaxis_title="wave", yaxis_title=None, template="plotly_white",
                         xaxis={"dtick": 1}, legend={"orientation": "h", "y": -0.2})
    return figure
