"""Repeated cross-sections as a study: import respondent-level answers (with weights) or a
frequency table as a series of periods, and compare periods.

A repeated cross-section asks new people each period (the GSS: yearly, then every other year).
:func:`import_cross_sections` creates a study with ``design = cross_section`` whose waves are the
periods in time order (``Wave.period`` holds the label; ``opens_at`` the period's start, so trends
are drawn on a time axis and irregular spacing is kept), one attitude item per item of the file,
and one participant per respondent and period:

* respondent-level files: columns ``participant, wave, item, value`` (``wave`` = the period: a
  year, ``YYYY-MM`` or an ISO date) and optionally a weight column; weights are checked as the
  ``indices`` command checks them (missing, negative, non-numeric, zero-sum refused);
* frequency tables (``counts=True``): columns ``wave, item, category, count``; each row becomes
  one respondent of weight ``count`` answering ``category``, with frequency weights, so every
  stored index equals that of the expanded file and nothing is expanded.

Reading reuses the command-line readers, so a bad file fails with the same one-line message
(:class:`analysis.cli.base.InputError`); nothing is stored unless the whole file is good.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from analysis.cli import indices as indices_cli
from analysis.cli import weights as weights_cli
from analysis.cli.base import InputError
from analysis.stats.tables import AnswersError, Scale
from analysis.stats.weighted import respondent_weights
from surveys.models import Item, Membership, Participant, Response, Study, Submission, Wave

_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass
class ImportResult:
    study: Study
    periods: int
    items: int
    respondents: int
    answers: float


def period_start(label) -> dt.date:
    """The first day of a period label: a year (1974), a month (2021-06) or an ISO date."""
    text = str(label).strip()
    try:
        if _YEAR.match(text):
            return dt.date(int(text), 1, 1)
        if _MONTH.match(text):
            return dt.date(int(text[:4]), int(text[5:7]), 1)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"period {text!r} is not a year, YYYY-MM or an ISO date") from None


def _located(path: Path, error: AnswersError) -> str:
    return indices_cli._located(path, error)


def _read(path: Path, *, counts: bool, weight: str | None, weight_kind: str) -> tuple[pd.DataFrame, str]:
    """The file as rows of (respondent, wave, item, value, weight) and the stored weight kind."""
    if counts:
        table = weights_cli.read_counts(path, [])
        try:
            table = table.assign(count=pd.to_numeric(table["count"], errors="coerce"))
            bad = ~np.isfinite(table["count"]) | (table["count"] < 0) | (table["count"] != np.round(table["count"]))
            if bad.any():
                line = table.index[bad.to_numpy()][0]
                raise InputError(f"{path.name}:{line}: column 'count': not a whole number >= 0")
        except AnswersError as error:
            raise InputError(_located(path, error)) from None
        table = table[table["count"] > 0]
        frame = pd.DataFrame({"respondent": [f"r{i}" for i in range(len(table))], "wave": table["wave"],
                              "item": table["item"], "value": table["category"], "weight": table["count"]},
                             index=table.index)
        return frame, Study.WeightKind.FREQUENCY
    answers = indices_cli.read_answers(path, [weight] if weight else [])
    if weight:
        try:
            weights = respondent_weights(answers[weight], kind=weight_kind, name=weight)
        except AnswersError as error:
            raise InputError(_located(path, error)) from None
    else:
        weights = np.ones(len(answers))
    # The same label in two periods is two people: a cross-section asks new people.
    respondent = answers["participant"].astype(str) + "@" + answers["wave"].astype(str)
    frame = pd.DataFrame({"respondent": respondent, "wave": answers["wave"], "item": answers["item"],
                          "value": answers["value"], "weight": weights}, index=answers.index)
    per_person = frame.groupby("respondent", sort=False)["weight"].nunique()
    if (per_person > 1).any():
        who = per_person.index[(per_person > 1).to_numpy()][0]
        line = frame.index[(frame["respondent"] == who).to_numpy()][1]
        raise InputError(f"{path.name}:{line}: column {weight!r}: a respondent has two weights in one period")
    totals = frame.drop_duplicates("respondent").groupby("wave")["weight"].sum()
    if (totals <= 0).any():
        raise InputError(f"{path.name}: column {weight!r}: the weights of period {totals.index[totals <= 0][0]} "
                         f"sum to 0")
    return frame, (weight_kind if weight else Study.WeightKind.NONE)


def _scales(frame: pd.DataFrame, path: Path, scale_min, scale_max) -> dict[str, Scale]:
    if scale_min is not None and scale_max is not None:
        scale = Scale(scale_min, scale_max)
        scales = {item: scale for item in frame["item"].unique()}
    else:
        scales = indices_cli.infer_scales(frame, path, 1.0)
    for item, scale in scales.items():
        values = frame.loc[frame["item"] == item, "value"]
        try:
            scale.codes(values.to_numpy(), item=item, rows=list(values.index))
        except AnswersError as error:
            raise InputError(_located(path, error)) from None
    return scales


def import_cross_sections(*, slug: str, path: Path, title: str = "", counts: bool = False,
                          weight: str | None = None, weight_kind: str = "sampling", scale_min=None, scale_max=None,
                          owner: str | None = None, description: str = "") -> ImportResult:
    """Create study ``slug`` from the file (module docstring). Refuses an existing slug."""
    path = Path(path)
    if Study.objects.filter(slug=slug).exists():
        raise InputError(f"study {slug!r} exists already; import into a new slug")
    if weight and counts:
        raise InputError("a frequency table is its own weights: give --counts or --weight, not both")
    frame, kind = _read(path, counts=counts, weight=weight, weight_kind=weight_kind)
    if frame.empty:
        raise InputError(f"{path.name}: no answers to import")
    scales = _scales(frame, path, scale_min, scale_max)
    user = None
    if owner:
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise InputError(f"no user {owner!r}")
    labels = list(dict.fromkeys(frame["wave"].tolist()))
    starts = {label: period_start(label) for label in labels}
    ordered = sorted(labels, key=lambda label: starts[label])
    with transaction.atomic():
        study = Study.objects.create(
            slug=slug, title=title or slug, description=description, status=Study.Status.CLOSED,
            design=Study.Design.CROSS_SECTION, weight_kind=kind, primary_outcome="mad_pairwise")
        if user is not None:
            Membership.objects.create(study=study, user=user, role=Membership.Role.OWNER)
        items = {}
        for order, (code, scale) in enumerate(scales.items(), start=1):
            likert = scale.min == 1 and scale.step == 1
            items[code] = Item.objects.create(
                study=study, code=str(code), prompt={"en": str(code)}, order=order, role=Item.Role.ATTITUDE,
                kind=Item.Kind.LIKERT if likert else Item.Kind.SLIDER, scale_min=scale.min, scale_max=scale.max,
                step=scale.step)
        waves = {}
        for number, label in enumerate(ordered, start=1):
            opens = timezone.make_aware(dt.datetime.combine(starts[label], dt.time()), dt.UTC)
            wave = Wave.objects.create(study=study, number=number, period=str(label), opens_at=opens,
                                       closes_at=opens + dt.timedelta(days=1), state=Wave.State.CLOSED)
            wave.items.set([items[code] for code in frame.loc[frame["wave"] == label, "item"].unique()])
            waves[label] = wave
        people = frame.drop_duplicates("respondent")
        participants = Participant.objects.bulk_create([
            Participant(study=study, external_id=str(row.respondent)[:128],
                        weight=float(row.weight) if kind else None, joined_at=waves[row.wave].opens_at)
            for row in people.itertuples(index=False)])
        by_respondent = dict(zip(people["respondent"], participants, strict=True))
        submissions = Submission.objects.bulk_create([
            Submission(participant=by_respondent[row.respondent], wave=waves[row.wave],
                       started_at=waves[row.wave].opens_at, completed_at=waves[row.wave].opens_at)
            for row in people.itertuples(index=False)])
        submission_of = dict(zip(people["respondent"], submissions, strict=True))
        Response.objects.bulk_create([
            Response(submission=submission_of[row.respondent], item=items[row.item],
                     value=None if pd.isna(row.value) else float(row.value),
                     missing="" if not pd.isna(row.value) else Response.Missing.SKIPPED,
                     answered_at=waves[row.wave].opens_at)
            for row in frame.itertuples(index=False)], batch_size=5000)
    return ImportResult(study=study, periods=len(waves), items=len(items), respondents=len(participants),
                        answers=float(frame["weight"].sum()))


# --------------------------------------------------------------------------- the GSS demo

GSS_SLUG = "gss"
GSS_DIR = Path(__file__).resolve().parents[2] / "examples" / "gss"
GSS_TITLES = {
    "polviews": "Think of self as liberal or conservative",
    "homosex": "Sexual relations between two adults of the same sex",
    "premarsx": "Sex before marriage",
    "xmarsex": "Sex with a person other than the spouse",
    "teensex": "Sex before marriage, teens 14-16",
    "confed": "Confidence in the executive branch of the federal government",
    "conpress": "Confidence in the press",
    "conjudge": "Confidence in the U.S. Supreme Court",
    "consci": "Confidence in the scientific community",
    "natenvir": "Spending on improving and protecting the environment",
    "natheal": "Spending on improving and protecting the nation's health",
    "natcrime": "Spending on halting the rising crime rate",
    "natdrug": "Spending on dealing with drug addiction",
    "nateduc": "Spending on improving the nation's education system",
    "natrace": "Spending on improving the conditions of Black people",
    "natarms": "Spending on the military, armaments and defense",
}


def seed_gss_demo(*, owner: str | None = None) -> tuple[Study, bool]:
    """Study ``gss`` from ``examples/gss/gss_counts.csv`` (idempotent: an existing study is kept),
    with the items' wording and answer labels from ``examples/gss/gss_counts_by_year.csv``."""
    study = Study.objects.filter(slug=GSS_SLUG).first()
    if study is not None:
        return study, False
    with transaction.atomic():
        result = import_cross_sections(
            slug=GSS_SLUG, path=GSS_DIR / "gss_counts.csv", counts=True, owner=owner,
            title="General Social Survey 1972-2024: attitudes as repeated cross-sections",
            description="Unweighted counts per answer category and year of 16 GSS attitude items "
                        "(examples/gss/README.md). New respondents every year: trends, not panel effects.")
        study = result.study
        labels = pd.read_csv(GSS_DIR / "gss_counts_by_year.csv").drop_duplicates(["variable", "category_order"])
        for item in Item.objects.filter(study=study):
            rows = labels[labels["variable"] == item.code].sort_values("category_order")
            item.prompt = {"en": GSS_TITLES.get(item.code, item.code)}
            item.labels = {"en": {str(int(c)): str(t) for c, t in zip(rows["category_order"], rows["category_label"],
                                                                       strict=True)}}
            item.save(update_fields=["prompt", "labels"])
    return study, True
