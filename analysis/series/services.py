"""Imported series of a study: text corpora scored per period and outcome series, and
relating two of them. Writes are atomic: a bad file stores nothing.

The files are read by the command-line readers (:func:`analysis.cli.text_disagreement.read_corpus`,
:func:`analysis.cli.correlate.read_series`), so an upload and a command accept the same CSVs and
fail with the same one-line messages (:class:`analysis.cli.base.InputError`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
from django.db import IntegrityError, transaction

from analysis.cli import correlate as correlate_cli
from analysis.cli import text_disagreement as text_cli
from analysis.cli.base import InputError
from analysis.models import TimeSeries, TimeSeriesPoint
from analysis.stats import correlate as corr
from analysis.stats.text import TextScorer, period_labels, text_series
from surveys.models import Study

#: Bootstrap resamples and seed of the stored corpus intervals.
CORPUS_BOOTSTRAP = 1000
CORPUS_SEED = 0


def _finite(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _checked_name(study: Study, name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InputError("Give the series a name.")
    if len(name) > TimeSeries._meta.get_field("name").max_length:
        raise InputError("The name is too long (at most 100 characters).")
    if TimeSeries.objects.filter(study=study, name=name).exists():
        raise InputError(f"This study already has a series named {name!r}; choose another name or delete it first.")
    return name


def _starts(labels) -> list:
    kind, ordinals = corr.parse_periods(list(labels))
    return [corr.period_start(kind, int(o)) for o in ordinals]


def _create(series: TimeSeries, points: list[TimeSeriesPoint]) -> TimeSeries:
    try:
        with transaction.atomic():
            series.save()
            for point in points:
                point.series = series
            TimeSeriesPoint.objects.bulk_create(points, batch_size=2000)
    except IntegrityError:
        raise InputError(f"This study already has a series named {series.name!r}.") from None
    return series


def import_corpus(*, study: Study, name: str, data: bytes, filename: str, period: str, user=None) -> TimeSeries:
    """Score a corpus CSV (date, text[, group]) with the default lexicon and pipeline and store its
    series per period and group, with bootstrap intervals; atomic; raises InputError."""
    name = _checked_name(study, name)
    if period not in ("year", "month", "week"):
        raise InputError(f"Unknown period {period!r}: use year, month or week.")
    corpus = text_cli.read_corpus(data, name=filename)
    scorer = TextScorer()
    scores = scorer.score(corpus["text"].tolist())
    labels = period_labels(corpus["date"], period)
    frame = text_series(scores, labels, corpus["group"] if "group" in corpus else None,
                        bootstrap=CORPUS_BOOTSTRAP, seed=CORPUS_SEED)
    starts = dict(zip(frame["period"].unique(), _starts(frame["period"].unique()), strict=True))
    series = TimeSeries(
        study=study, name=name, kind=TimeSeries.Kind.CORPUS, period=period, lexicon=scorer.lexicon.name,
        parameters={"pipeline": scorer.pipeline.describe(), "bootstrap": CORPUS_BOOTSTRAP, "seed": CORPUS_SEED,
                    "notes": scorer.notes, "empty_texts": corpus.attrs.get("empty_texts", 0)},
        source_name=filename[:255], source_sha256=hashlib.sha256(data).hexdigest(), texts=len(corpus),
        tokens=int(scores.tokens.sum()), scored=int(scores.scored.sum()), not_found=int(scores.not_found.sum()),
        created_by=user,
    )
    points = [
        TimeSeriesPoint(period=row.period, starts_on=starts[row.period], group=row.group, value=_finite(row.value),
                        ci_low=_finite(row.ci_low), ci_high=_finite(row.ci_high),
                        value_mean=_finite(row.text_negativity_mean), mean_ci_low=_finite(row.mean_ci_low),
                        mean_ci_high=_finite(row.mean_ci_high), positivity=_finite(row.positivity),
                        texts=row.texts, tokens=row.tokens, scored=row.scored, not_found=row.not_found)
        for row in frame.itertuples(index=False)
    ]
    return _create(series, points)


def import_outcome(*, study: Study, name: str, data: bytes, filename: str, user=None) -> TimeSeries:
    """Store an outcome series CSV (period, value); atomic; raises InputError."""
    name = _checked_name(study, name)
    parsed = correlate_cli.read_series(data, name=filename)
    if not len(parsed):
        raise InputError(f"{filename}: no values (every value is missing)")
    series = TimeSeries(study=study, name=name, kind=TimeSeries.Kind.OUTCOME, period=parsed.kind,
                        source_name=filename[:255], source_sha256=hashlib.sha256(data).hexdigest(), created_by=user)
    points = [TimeSeriesPoint(period=label, starts_on=start, value=float(value))
              for label, start, value in zip(parsed.labels, parsed.starts(), parsed.values, strict=True)]
    return _create(series, points)


# --------------------------------------------------------------------------- reads


def list_series(*, study: Study) -> list[TimeSeries]:
    return list(TimeSeries.objects.filter(study=study).order_by("name"))


def list_series_choices(*, study: Study) -> list[tuple[str, str]]:
    """``("<id>:<group>", label)`` for every series and group of the study (group ``all`` first)."""
    groups: dict[int, list[str]] = {}
    for series_id, group in (TimeSeriesPoint.objects.filter(series__study=study).order_by()
                             .values_list("series_id", "group").distinct()):
        groups.setdefault(series_id, []).append(group)
    choices = []
    for series in list_series(study=study):
        for group in sorted(groups.get(series.pk, ["all"]), key=lambda g: (g != "all", g)):
            label = series.name if group == "all" else f"{series.name} (group {group})"
            choices.append((f"{series.pk}:{group}", label))
    return choices


def series_points_frame(*, series: TimeSeries) -> pd.DataFrame:
    rows = series.points.order_by("starts_on", "group").values(
        "period", "starts_on", "group", "value", "ci_low", "ci_high", "value_mean", "mean_ci_low", "mean_ci_high",
        "positivity", "texts", "tokens", "scored", "not_found")
    return pd.DataFrame.from_records(list(rows), columns=[
        "period", "starts_on", "group", "value", "ci_low", "ci_high", "value_mean", "mean_ci_low", "mean_ci_high",
        "positivity", "texts", "tokens", "scored", "not_found"])


def _as_series(series: TimeSeries, group: str) -> corr.Series:
    rows = list(series.points.filter(group=group).order_by("starts_on").values_list("period", "value"))
    if not rows:
        raise InputError(f"Series {series.name!r} has no group {group!r}.")
    labels, values = zip(*rows, strict=True)
    return corr.make_series(labels, [float("nan") if v is None else v for v in values])


@dataclass
class Relation:
    """Correlations of two series by every method, with lags and on first differences."""

    a: TimeSeries
    b: TimeSeries
    correlations: pd.DataFrame
    warning: str | None
    plot: pd.DataFrame
    common: int


def relate_series(*, a: TimeSeries, b: TimeSeries, group_a: str = "all", group_b: str = "all", lags: int = 0,
                  bootstrap: int = 1000, seed: int = 0) -> Relation:
    """Spearman, Pearson and Kendall of A(t) against B(t+L) for L in 0, 1..K, -1..-K, on levels
    and first differences, with moving-block bootstrap intervals. Raises InputError when the
    series cannot be related (different kinds of period)."""
    left, right = _as_series(a, group_a), _as_series(b, group_b)
    try:
        frames = [corr.correlate_series(left, right, method=method, lags=lags, bootstrap=bootstrap, seed=seed)
                  for method in corr.METHODS]
    except corr.SeriesError as error:
        raise InputError(str(error)) from None
    name_a = a.name if group_a == "all" else f"{a.name} ({group_a})"
    name_b = b.name if group_b == "all" else f"{b.name} ({group_b})"
    if name_a == name_b:
        name_a, name_b = f"A: {name_a}", f"B: {name_b}"
    plot = pd.concat([
        pd.DataFrame({"series": name, "date": pd.to_datetime(s.starts()), "period": list(s.labels),
                      "value": s.values})
        for name, s in ((name_a, left), (name_b, right))], ignore_index=True)
    correlations = pd.concat(frames, ignore_index=True)
    return Relation(a=a, b=b, correlations=correlations, warning=corr.trend_warning(left, right), plot=plot,
                    common=int(correlations.iloc[0]["n"]))
