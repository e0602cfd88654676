"""Pure Plotly figure builders: `<what>_figure(frame) -> go.Figure`. No Django import.

Figures are built here and rendered by plotly.js served from our own static files.
"""

import math

import pandas as pd
import plotly.graph_objects as go

#: Colour-blind-safe palette (Okabe & Ito 2008), one colour per line.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _band_colour(hex_colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def trend_figure(frame: pd.DataFrame, *, title: str = "", intervention_wave: int | None = None, y_title: str = "",
                 more_disagreement: str | None = None, empty: str = "", time_axis: bool = False) -> go.Figure:
    """One index over waves: a line per group with its 95% interval as a band.

    `frame` has columns wave, group, value, ci_low, ci_high (one index, one item or pooled) and
    optionally n (shown on hover) and flag (True: the interval may under-cover at this n; a
    crossed marker and a note on hover). Rows with a missing value leave a gap; groups keep the order
    in which they first appear. `y_title` names the index and its units; `more_disagreement`
    (a glossary direction) adds which way means more disagreement to it; `empty` says why there
    is nothing to draw when `frame` has no rows.
    """
    traces = []
    where = "%{x}" if time_axis else "wave %{x}"
    for position, (group, rows) in enumerate(frame.groupby("group", sort=False)):
        rows = rows.sort_values("wave")
        colour = PALETTE[position % len(PALETTE)]
        waves = rows["wave"].tolist()
        if rows["ci_low"].notna().any() and rows["ci_high"].notna().any():
            traces.append({
                "type": "scatter", "x": waves + waves[::-1],
                "y": rows["ci_high"].tolist() + rows["ci_low"].tolist()[::-1],
                "fill": "toself", "fillcolor": _band_colour(colour), "line": {"width": 0}, "mode": "lines",
                "hoverinfo": "skip", "showlegend": False, "legendgroup": str(group), "name": f"{group} 95% CI",
            })
        line = {"type": "scatter", "x": waves, "y": rows["value"].tolist(), "mode": "lines+markers",
                "name": str(group), "legendgroup": str(group), "line": {"color": colour}, "connectgaps": False}
        if "n" in rows:
            line["customdata"] = rows["n"].tolist()
            line["hovertemplate"] = f"{where}: %{{y:.3g}} (n = %{{customdata}})<extra>%{{fullData.name}}</extra>"
        if "flag" in rows and rows["flag"].fillna(False).astype(bool).any():
            # Points whose interval the coverage study found too narrow at this n: a crossed marker.
            flagged = rows["flag"].fillna(False).astype(bool).tolist()
            line["marker"] = {"symbol": ["circle-x-open" if f else "circle" for f in flagged], "size": 8}
            line["text"] = [UNDER_COVERAGE if f else "" for f in flagged]
            line["hovertemplate"] = f"{where}: %{{y:.3g}} %{{text}}<extra>%{{fullData.name}}</extra>"
        traces.append(line)
    # Repeated cross-sections: `wave` holds each period's start date, drawn on a time axis so
    # that irregular spacing (annual, then biennial rounds) shows.
    xaxis = {"type": "date", "title": {"text": "period"}} if time_axis else {"dtick": 1, "title": {"text": "wave"}}
    marks = _marks(vertical=intervention_wave)
    return _figure(traces, title=title, height=400, xaxis=xaxis,
                   yaxis={"title": {"text": axis_title(y_title or "value", more_disagreement, axis="y")}},
                   empty=empty, shapes=marks["shapes"], annotations=marks["annotations"])


#: The note on a point whose interval may under-cover (docs/indices.md, coverage table).
UNDER_COVERAGE = "(interval may be too narrow at this n)"

#: How every chart marks the direction of more disagreement (x axes point right, y axes up).
_ARROWS = {("higher", "y"): "↑", ("lower", "y"): "↓", ("higher", "x"): "→", ("lower", "x"): "←"}


def direction_mark(more_disagreement: str | None, *, axis: str = "y") -> str:
    """"↑ more disagreement" (higher values), "↓ more disagreement" (lower), "further from 0 =
    more disagreement", or "" when the quantity does not measure disagreement."""
    if more_disagreement is None:
        return ""
    arrow = _ARROWS.get((more_disagreement, axis))
    return f"{arrow} more disagreement" if arrow else f"{more_disagreement} = more disagreement"


def axis_title(text: str, more_disagreement: str | None = None, *, axis: str = "y") -> str:
    mark = direction_mark(more_disagreement, axis=axis)
    return f"{text} ({mark})" if mark else text


def empty_annotation(message: str) -> dict:
    """A note in the middle of an empty plot saying why it is empty."""
    return {"text": message, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5, "showarrow": False,
            "font": {"size": 14, "color": "#555"}, "xanchor": "center", "yanchor": "middle"}


# --- Dashboards --------------------------------------------------------------------------------
# Figures are assembled from plain dicts and wrapped without plotly's per-property validation,
# with a small white template instead of the named "plotly_white": validating and deep-copying
# the named template cost tens of milliseconds per figure, most of a page's time budget. The
# tests validate every builder's output once (go.Figure(figure.to_dict())).

#: Slider scales with more points than this are shown in equal-width bins.
MAX_BARS = 15

_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
         "automargin": True, "ticks": ""}
#: The parts of plotly's "plotly_white" template these figures use.
TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"},
                       "colorway": list(PALETTE), "hoverlabel": {"align": "left"}, "xaxis": _AXIS, "yaxis": _AXIS}}


def _figure(traces: list[dict], *, title: str, height: int, empty: str | None = "", **layout) -> go.Figure:
    # Title top left, legend just above the plot (it wraps on a phone and pushes the plot down
    # instead of covering the axis title), small side margins so a 360 px screen keeps a plot.
    base = {
        "template": TEMPLATE, "height": height,
        "margin": {"l": 50, "r": 15, "t": 80 if title else 40, "b": 50},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
    }
    if title:
        base["title"] = {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top"}
    if not traces and empty is not None:
        # An empty plot says why (a blank pair of axes reads as "no effect").
        message = empty or "Nothing to show for this choice."
        layout = {**layout, "annotations": [empty_annotation(message)], "shapes": []}
        for axis in ("xaxis", "yaxis"):
            layout[axis] = {**layout.get(axis, {}), "showticklabels": False, "showgrid": False, "zeroline": False}
    return go.Figure(data=traces, layout={**base, **layout}, _validate=False)


def _layout(figure: go.Figure, *, title: str, height: int, **extra) -> go.Figure:
    """The dashboards' title, legend, margins and template on a figure built with graph objects."""
    layout = _figure([], title=title, height=height, empty=None).layout.to_plotly_json()
    figure.update_layout(**layout, **extra)
    return figure


def _marks(*, vertical: float | None = None, horizontal: float | None = None, label: str = "intervention") -> dict:
    """A dashed vertical line at x = `vertical` labelled `label`, a thin line at y = `horizontal`."""
    shapes, annotations = [], []
    if horizontal is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": horizontal,
                       "y1": horizontal, "line": {"color": "#555", "width": 1}})
    if vertical is not None:
        shapes.append({"type": "line", "xref": "x", "x0": vertical, "x1": vertical, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": "#555", "dash": "dash", "width": 1.5}})
        if label:
            annotations.append({"x": vertical, "xref": "x", "y": 1, "yref": "paper", "text": label,
                                "showarrow": False, "xanchor": "right", "yanchor": "top"})
    return {"shapes": shapes, "annotations": annotations}


def _bin_values(values: pd.Series, max_bars: int, scale: tuple | None = None) -> tuple[pd.Series, list[str]]:
    """Values -> category labels. Every point of the scale (min, max, step) is a category, so
    empty ones show as empty; a scale (or, without one, the answers) with more than `max_bars`
    points is cut into `max_bars` equal-width bins, the top value in the last."""
    values = values.astype(float)
    if scale is not None:
        low, high, step = (float(v) for v in scale)
        points = [low + i * step for i in range(int(round((high - low) / step)) + 1)]
    else:
        points = sorted(values.unique())
        low, high = (float(points[0]), float(points[-1])) if points else (0.0, 0.0)
    if len(points) <= max_bars:
        labels = [f"{p:g}" for p in points]
        position = {round(p, 9): label for p, label in zip(points, labels, strict=True)}
        return values.round(9).map(position), labels
    width = _nice_width((high - low) / max_bars)
    bins = max(1, math.ceil((high - low) / width - 1e-9))  # the top value joins the last bin
    # Short labels (the lower edge of each bin) stay readable on a phone; the hover and the
    # caption say the width.
    labels = [f"{low + i * width:g}" for i in range(bins)]
    positions = ((values - low) / width + 1e-9).clip(lower=0, upper=bins - 1).astype(int)
    return positions.map(dict(enumerate(labels))), labels


def _nice_width(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least `raw` (bins of 10, not of 6.667)."""
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1, 2, 2.5, 5, 10) if f * magnitude >= raw - 1e-12)


def _grid(panels: int, columns: int, *, height: int) -> list[dict]:
    """Axis domains of small multiples, row by row from the top: one dict per panel with the
    axis suffix ("" for the first), x and y domains and the column."""
    columns = max(1, min(columns, panels))
    rows = max(1, -(-panels // columns))
    plot_height = max(1.0, height - 160)
    v_gap = min(0.3, 60 / plot_height) if rows > 1 else 0.0
    h_gap = 0.05
    cell_w = (1 - h_gap * (columns - 1)) / columns
    cell_h = (1 - v_gap * (rows - 1)) / rows
    cells = []
    for i in range(panels):
        row, col = divmod(i, columns)
        x0 = col * (cell_w + h_gap)
        y1 = 1 - row * (cell_h + v_gap)
        cells.append({"suffix": "" if i == 0 else str(i + 1), "x": [_unit(x0), _unit(x0 + cell_w)],
                      "y": [_unit(y1 - cell_h), _unit(y1)], "col": col, "last_row": i + columns >= panels})
    return cells


def _unit(value: float) -> float:
    # Rounding error must not push a domain a hair outside [0, 1] (plotly rejects -6.9e-17).
    return min(1.0, max(0.0, round(value, 6)))


def distribution_figure(frame: pd.DataFrame, *, title: str = "", labels: dict | None = None,
                        scale: tuple | None = None, columns: int = 3, max_bars: int = MAX_BARS,
                        empty: str = "No answers to this item have been counted yet.",
                        wave_names: dict | None = None) -> go.Figure:
    """Answer distributions as small multiples: one panel per wave, one bar colour per group,
    bar height the share of the group's answers in that wave (so groups of unequal size compare).

    `frame` has columns wave, group, value, count; `labels` maps group keys to legend names;
    `scale` = (min, max, step) of the item shows every point of the scale. Scales with more
    than `max_bars` points are binned; one trace per (wave, group). `wave_names` titles the
    panels (repeated cross-sections: wave number -> period, e.g. 1974).
    """
    labels = labels or {}
    waves = sorted(int(w) for w in frame["wave"].unique()) if len(frame) else []
    rows = max(1, -(-len(waves) // max(1, columns)))
    height = 230 * rows + 160
    if not waves:
        return _figure([], title=title, height=300, empty=empty, xaxis={"title": {"text": "answer"}},
                       yaxis={"title": {"text": "share of the group's answers"}})
    categories, order = _bin_values(frame["value"], max_bars, scale)
    data = frame.assign(category=categories).groupby(["wave", "group", "category"], sort=False)["count"].sum()
    data = data.reset_index()
    data["share"] = data["count"] / data.groupby(["wave", "group"])["count"].transform("sum")
    lookup = {(int(w), g, c): (s, n) for w, g, c, n, s in data[["wave", "group", "category", "count", "share"]]
              .itertuples(index=False)}
    groups = list(dict.fromkeys(frame["group"]))
    traces, layout, annotations = [], {}, []
    for wave, cell in zip(waves, _grid(len(waves), columns, height=height), strict=True):
        suffix = cell["suffix"]
        layout[f"xaxis{suffix}"] = {"domain": cell["x"], "anchor": f"y{suffix}", "type": "category",
                                    "categoryorder": "array", "categoryarray": order, "tickangle": 0,
                                    **({"title": {"text": "answer"}} if cell["last_row"] else {})}
        layout[f"yaxis{suffix}"] = {"domain": cell["y"], "anchor": f"x{suffix}", "tickformat": ".0%",
                                    "rangemode": "tozero", "showticklabels": cell["col"] == 0,
                                    **({"title": {"text": "share of answers"}} if cell["col"] == 0 else {}),
                                    **({"matches": "y"} if suffix else {})}
        annotations.append({"text": (wave_names or {}).get(wave, f"wave {wave}"), "x": sum(cell["x"]) / 2, "y": cell["y"][1], "xref": "paper",
                            "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False})
        for g_index, group in enumerate(groups):
            cells = [lookup.get((wave, group, c), (0.0, 0)) for c in order]
            traces.append({
                "type": "bar", "x": order, "y": [s for s, _n in cells], "customdata": [int(n) for _s, n in cells],
                "name": labels.get(group, str(group)), "legendgroup": str(group), "showlegend": wave == waves[0],
                "marker": {"color": PALETTE[g_index % len(PALETTE)]}, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                "hovertemplate": "%{x}: %{y:.1%} (%{customdata} answers)<extra>%{fullData.name}</extra>",
            })
    # The legend goes above the panel titles of the first row.
    legend_y = 1 + 30 / max(1.0, height - 160)
    return _figure(traces, title=title, height=height, barmode="group", bargap=0.15, annotations=annotations,
                   legend={"orientation": "h", "x": 0, "xanchor": "left", "y": legend_y, "yanchor": "bottom"},
                   margin={"l": 50, "r": 15, "t": 110 if title else 70, "b": 50}, **layout)


def funnel_figure(frame: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Attrition funnel: participants per stage (joined, consented, completed wave 1..W), one
    bar colour per arm. `frame` has columns arm, stage, step, count, share."""
    traces = []
    for position, (arm, rows) in enumerate(frame.groupby("arm", sort=False)):
        rows = rows.sort_values("step")
        traces.append({
            "type": "bar", "x": rows["stage"].tolist(), "y": rows["count"].tolist(), "name": str(arm),
            "marker": {"color": PALETTE[position % len(PALETTE)]}, "customdata": rows["share"].tolist(),
            "hovertemplate": "%{x}: %{y} (%{customdata:.0%} of joined)<extra>%{fullData.name}</extra>",
        })
    return _figure(traces, title=title, height=360, barmode="group",
                   xaxis={"type": "category", "title": {"text": "stage"}}, yaxis={"title": {"text": "participants"}})


def _whiskers(rows: pd.DataFrame) -> dict:
    return {"type": "data", "symmetric": False, "array": (rows["ci_high"] - rows["estimate"]).tolist(),
            "arrayminus": (rows["estimate"] - rows["ci_low"]).tolist(), "thickness": 1.5}


def forest_figure(frame: pd.DataFrame, *, title: str = "", x_title: str = "effect (intervention − control)",
                  empty: str = "") -> go.Figure:
    """Forest plot: one row per outcome, a point with its 95% interval per arm, a line at zero.

    `frame` has columns arm, outcome, estimate, ci_low, ci_high (one item, pooled over waves)
    and optionally `raw`: a text written beside each point (the estimate in its own units when
    the axis is a share of the possible range, `share_of_range`). Outcomes keep their first-seen
    order from top to bottom; missing intervals draw no whisker.
    """
    outcomes = list(dict.fromkeys(frame["outcome"]))
    traces = []
    for position, (arm, rows) in enumerate(frame.groupby("arm", sort=False)):
        trace = {"type": "scatter", "x": rows["estimate"].tolist(), "y": rows["outcome"].tolist(), "mode": "markers",
                 "name": str(arm), "marker": {"color": PALETTE[position % len(PALETTE)], "size": 9},
                 "error_x": _whiskers(rows), "hovertemplate": "%{y}: %{x:.3g}<extra>%{fullData.name}</extra>"}
        if "raw" in rows:
            trace.update({"mode": "markers+text", "text": rows["raw"].tolist(), "textposition": "top center",
                          "cliponaxis": False,
                          "textfont": {"size": 11, "color": "#444"},
                          "hovertemplate": "%{y}: %{x:.1%} of the possible range (%{text})<extra>%{fullData.name}</extra>"})
        traces.append(trace)
    xaxis = {"title": {"text": x_title}}
    if "raw" in frame:
        xaxis["tickformat"] = ".0%"
    return _figure(traces, title=title, height=max(260, 44 * len(outcomes) + 140), empty=empty, xaxis=xaxis,
                   yaxis={"type": "category", "categoryorder": "array", "categoryarray": outcomes[::-1],
                          "title": {"text": "outcome"}},
                   shapes=[{"type": "line", "xref": "x", "x0": 0, "x1": 0, "yref": "paper", "y0": 0, "y1": 1,
                            "line": {"color": "#555", "width": 1}}])


def share_of_range(frame: pd.DataFrame, spans: dict[str, float | None], *, labels: dict[str, str] | None = None,
                   marks: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effects as a share of each outcome's possible range, for a forest plot on one axis.

    `frame` has columns arm, outcome, estimate, ci_low, ci_high; `spans` maps an outcome to the
    width of its possible range (`glossary.possible_span`). Returns (shares, left out): shares
    has the estimate and interval divided by the span, `raw` (the estimate and interval in the
    outcome's own units, as text) and `outcome` relabelled by `labels` plus `marks` (which way
    is more disagreement); outcomes without a finite span are left out (second frame).
    """
    labels, marks = labels or {}, marks or {}
    span = frame["outcome"].map(lambda name: spans.get(name)).astype(float)
    keep = span.notna() & (span > 0)
    chosen, width = frame[keep], span[keep]
    raw = [f"{_fmt(e)} [{_fmt(lo)}, {_fmt(hi)}]" for e, lo, hi in
           zip(chosen["estimate"], chosen["ci_low"], chosen["ci_high"], strict=True)]
    shares = chosen.assign(
        estimate=chosen["estimate"] / width, ci_low=chosen["ci_low"] / width, ci_high=chosen["ci_high"] / width,
        raw=raw, outcome=[" ".join(filter(None, (labels.get(o, o), marks.get(o, "")))) for o in chosen["outcome"]])
    return shares.reset_index(drop=True), frame[~keep].reset_index(drop=True)


def _fmt(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3g}"


def event_study_figure(frame: pd.DataFrame, *, title: str = "", intervention_wave: int | None = None,
                       reference_wave: int | None = None, y_title: str = "effect (intervention − control)",
                       more_disagreement: str | None = None, empty: str = "") -> go.Figure:
    """Effect per wave (event study / per-wave difference in differences): a line with 95%
    whiskers per arm, zero marked, the intervention wave marked. Points before the intervention
    are placebo checks, drawn hollow; `reference_wave` (the wave the others are compared with,
    0 by construction) is drawn as a hollow diamond at 0 without a whisker. `frame` has
    columns arm, wave, estimate, ci_low, ci_high."""
    traces = []
    for position, (arm, rows) in enumerate(frame.groupby("arm", sort=False)):
        rows = rows.sort_values("wave")
        if reference_wave is not None and reference_wave not in set(rows["wave"]):
            reference = pd.DataFrame({"wave": [reference_wave], "estimate": [0.0], "ci_low": [0.0], "ci_high": [0.0]})
            rows = pd.concat([rows, reference], ignore_index=True).sort_values("wave", kind="stable")
        waves = rows["wave"].astype(int).tolist()
        symbols = ["diamond-open" if w == reference_wave else
                   "circle-open" if intervention_wave is not None and w < intervention_wave else "circle"
                   for w in waves]
        kinds = ["reference (0 by construction)" if w == reference_wave else
                 "placebo (before the intervention)" if intervention_wave is not None and w < intervention_wave else
                 "effect" for w in waves]
        colour = PALETTE[position % len(PALETTE)]
        traces.append({"type": "scatter", "x": waves, "y": rows["estimate"].tolist(), "customdata": kinds,
                       "mode": "lines+markers", "name": str(arm), "line": {"color": colour},
                       "marker": {"symbol": symbols, "size": 9, "color": colour},
                       "hovertemplate": "wave %{x}: %{y:.3g} (%{customdata})<extra>%{fullData.name}</extra>",
                       "error_y": _whiskers(rows)})
    marks = _marks(vertical=intervention_wave, horizontal=0)
    if traces and intervention_wave is not None and any(w < intervention_wave for t in traces for w in t["x"]):
        first = min(w for t in traces for w in t["x"])
        marks["annotations"].append({"x": first, "xref": "x", "y": 1, "yref": "paper", "text": "◦ placebo checks",
                                     "showarrow": False, "xanchor": "left", "yanchor": "top"})
    return _figure(traces, title=title, height=360, empty=empty, xaxis={"dtick": 1, "title": {"text": "wave"}},
                   yaxis={"title": {"text": axis_title(y_title, more_disagreement, axis="y")}}, **marks)


def quality_figure(frame: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Share of each wave's submissions flagged by each screen (one bar colour per flag).
    `frame` has columns wave, submissions and one count column per flag."""
    names = {"attention": "attention check failed", "speeder": "speeder", "straightlining": "straight-lining"}
    submissions = frame["submissions"].astype(float).where(frame["submissions"] > 0)
    traces = [{
        "type": "bar", "x": frame["wave"].tolist(), "y": (frame[flag] / submissions).tolist(), "name": name,
        "marker": {"color": PALETTE[position % len(PALETTE)]}, "customdata": frame[flag].tolist(),
        "hovertemplate": "wave %{x}: %{y:.1%} (%{customdata})<extra>%{fullData.name}</extra>",
    } for position, (flag, name) in enumerate(names.items())]
    return _figure(traces, title=title, height=340, barmode="group", xaxis={"dtick": 1, "title": {"text": "wave"}},
                   yaxis={"tickformat": ".0%", "rangemode": "tozero", "title": {"text": "share of submissions"}})


# --- text series ---


def rescale_unit(values: pd.Series) -> pd.Series:
    """(x - min) / (max - min): a series' lowest value at 0 and its highest at 1 (0.5 when constant)."""
    low, high = values.min(), values.max()
    if pd.isna(low) or high == low:
        return values * 0 + 0.5
    return (values - low) / (high - low)


def text_series_figure(frame: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Two (or more) series on one time axis, each rescaled to 0..1 so their shapes compare
    whatever their units; the hover shows the period and the value as measured.

    `frame` has columns series, date (the first day of each period), period and value.
    """
    figure = go.Figure()
    for position, (name, rows) in enumerate(frame.groupby("series", sort=False)):
        rows = rows.sort_values("date")
        figure.add_trace(go.Scatter(
            x=rows["date"], y=rescale_unit(rows["value"]), mode="lines+markers", name=str(name),
            line={"color": PALETTE[position % len(PALETTE)]}, customdata=list(zip(rows["period"], rows["value"], strict=True)),
            hovertemplate="%{customdata[0]}: %{customdata[1]:.4g}<extra>%{fullData.name}</extra>",
        ))
    figure.update_yaxes(range=[-0.05, 1.05])
    return _layout(figure, title=title, height=380, xaxis={"title": "period"},
                   yaxis_title="rescaled to 0..1 (lowest to highest)")
