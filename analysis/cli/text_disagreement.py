"""The ``text_disagreement`` command without Django: a corpus CSV in, a negativity series out.

``manage.py text_disagreement`` wraps :func:`add_arguments` and :func:`run`. No database is
involved. Input: a CSV with columns ``date`` and ``text`` and optionally ``group`` (a header row;
``,``/``;``/tab separated; quoted texts may span lines; UTF-8 with or without BOM, UTF-16, or
Windows-1252). Dates are ISO: ``2021``, ``2021-03``, ``2021-03-05``, ``2021-03-05T14:30:00+01:00``
(times with an offset are taken in UTC). Output (stdout or ``--output``), CSV by default:
``period,value,group,ci_low,ci_high,text_negativity_mean,...`` with the counts, one row per
period for group ``all`` and, when the corpus has a ``group`` column, per group; ``correlate``
reads it as it is. ``value`` is ``text_negativity`` (pooled ratio, docs/text.md).

Bad input raises :class:`analysis.cli.base.InputError` whose message is one line naming file, line
and column, e.g. ``letters.csv:17: column 'date': 'last spring' is not an ISO date``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from analysis.cli import base as cli
from analysis.cli.base import InputError
from analysis.stats import text as measure

PROG = "text_disagreement"
FIELDS = ("period", "value", "group", "ci_low", "ci_high", "text_negativity_mean", "mean_ci_low", "mean_ci_high",
          "positivity", "texts", "tokens", "scored", "not_found", "dropped")
PER_TEXT_FIELDS = ("line", "date", "period", "group", "tokens", "scored", "not_found", "dropped", "negativity",
                   "positivity", "text_negativity")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "#n/a", "-"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="CORPUS.csv", help="texts: columns date, text and optionally group")
    parser.add_argument("--period", choices=measure.PERIODS, required=True,
                        help="bucket the texts by year, month or ISO week (labelled by its Monday)")
    parser.add_argument("--lexicon", nargs="+", action="extend", metavar="vader|swn:PATH|FILE",
                        help="vader (default, English; ships with vaderSentiment), swn:PATH (a SentiWordNet 3.0 "
                             "file, English) or lexicon FILE(s) of the texts' language: SentiWS (German; give its "
                             "positive and negative files) or 'word<TAB>polarity' lines (docs/text.md)")
    parser.add_argument("--language", default="en",
                        help="language of the texts (default en): its base forms, stop-words and negations; the "
                             "lexicon must be of this language")
    parser.add_argument("--no-negation", action="store_true",
                        help="plain word scores, as the seed method: no VADER negation rule (default: a word "
                             "after 'not', 'never', 'nicht' ... within three tokens is turned round, x -0.74)")
    parser.add_argument("--no-stop-words", action="store_true", help="keep stop-words (default: drop them)")
    parser.add_argument("--no-lemmatize", action="store_true", help="look words up as written, not as base forms")
    parser.add_argument("--no-surface-fallback", action="store_true",
                        help="do not look a word up as written when its base form is not in the lexicon")
    parser.add_argument("--pos-filter", choices=("none", "lexicon", "nltk"), default="none",
                        help="keep only nouns, adjectives and adverbs: by the lexicon's senses (SentiWordNet), "
                             "or by NLTK's tagger when installed with its data (falls back to lexicon)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples of texts for the intervals (default 1000; 0 = none)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument("--level", type=float, default=0.95, metavar="L", help="interval level (default 0.95)")
    parser.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv: the period,value series correlate reads (default); json: a list of records")
    parser.add_argument("--output", metavar="PATH", help="write the series here instead of stdout")
    parser.add_argument("--per-text", metavar="PATH", help="also write each text's counts and ratio to this CSV")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Topic-free text disagreement: lexicon negativity of a corpus per period.")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    return cli.main(PROG, build_parser, run, argv, stdout, stderr)


def scorer_from_options(options: dict, *, stderr: TextIO | None = None) -> measure.TextScorer:
    """The lexicon and pipeline the options ask for; what cannot be done is said on ``stderr``."""
    try:
        lexicon = measure.get_lexicon(options.get("lexicon") or "vader")
    except (measure.TextError, measure.ComponentMissing) as error:
        raise InputError(str(error)) from None
    language = options.get("language") or "en"
    mode = options.get("pos_filter") or "none"
    tagger = None
    if mode == "nltk":
        try:
            tagger = measure.nltk_tagger()
        except measure.ComponentMissing as error:
            if stderr is not None:
                cli.say(stderr, f"{PROG}: {error}; falling back to the lexicon's parts of speech")
    pipeline = measure.TextPipeline(
        language=language,
        stop_words=frozenset() if options.get("no_stop_words") else None,
        lemmatize=not options.get("no_lemmatize"), surface_fallback=not options.get("no_surface_fallback"),
        pos_filter=mode != "none", tagger=tagger, negation=not options.get("no_negation"),
    )
    try:
        scorer = measure.TextScorer(lexicon, pipeline)
    except (measure.ComponentMissing, measure.TextError) as error:
        raise InputError(str(error)) from None
    if stderr is not None:
        for note in scorer.notes:
            cli.say(stderr, f"{PROG}: {note}")
    return scorer


def run(options: dict, *, stdout: TextIO, stderr: TextIO) -> pd.DataFrame:
    if options.get("bootstrap", 1000) < 0:
        raise InputError("--bootstrap must be 0 or more")
    if not 0 < options.get("level", 0.95) < 1:
        raise InputError("--level must lie strictly between 0 and 1")
    path = Path(options["file"])
    corpus = read_corpus(path)
    scorer = scorer_from_options(options, stderr=stderr)
    scores = scorer.score(corpus["text"].tolist())
    periods = measure.period_labels(corpus["date"], options["period"])
    groups = corpus["group"] if "group" in corpus else None
    series = measure.text_series(scores, periods, groups, bootstrap=options.get("bootstrap", 1000),
                                 seed=options.get("seed", 0), level=options.get("level", 0.95))
    _summarize(path, corpus, scores, series, scorer, stderr)
    cli.write_records(series, FIELDS, options, prog=PROG, stdout=stdout, stderr=stderr)
    if options.get("per_text"):
        per_text = scores.frame()
        per_text.insert(0, "line", corpus.index.to_numpy())
        per_text.insert(1, "date", corpus["date"].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy())
        per_text.insert(2, "period", periods.to_numpy())
        per_text.insert(3, "group", corpus["group"].to_numpy() if "group" in corpus else "all")
        cli.write_file(options["per_text"], cli.to_csv(per_text, PER_TEXT_FIELDS), option="--per-text")
    return series


def _summarize(path, corpus, scores, series, scorer, stderr) -> None:
    tokens = int(scores.tokens.sum())

    def share(count):
        return f"{count} ({count / tokens:.0%})" if tokens else str(count)

    cli.say(stderr, f"{PROG}: {path.name}: {len(corpus)} texts, {tokens} words: {share(int(scores.scored.sum()))} "
                    f"scored, {share(int(scores.not_found.sum()))} not in the lexicon, "
                    f"{share(int(scores.dropped.sum()))} dropped (stop-words, part of speech); "
                    f"lexicon {scorer.lexicon.name}")
    skipped = corpus.attrs.get("empty_texts", 0)
    if skipped:
        cli.say(stderr, f"{PROG}: {skipped} empty texts skipped")
    undefined = series[series["group"] == "all"]["value"].isna().sum()
    if undefined:
        cli.say(stderr, f"{PROG}: {undefined} period(s) without a scored word have no value")


# --------------------------------------------------------------------------- reading CSV


def decode(raw: bytes) -> str:
    """Bytes of a CSV export as text: UTF-16 (with BOM), UTF-8 (BOM optional), else Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16").lstrip("\ufeff")
    try:
        return raw.decode("utf-8-sig").lstrip("\ufeff")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_bytes(source: Path | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, name or "upload.csv"
    try:
        return Path(source).read_bytes(), name or Path(source).name
    except OSError as error:
        raise InputError(f"{source}: cannot read the file ({error.strerror or error})") from None


def csv_rows(source: Path | bytes, *, required: Sequence[str], optional: Sequence[str] = (),
             name: str | None = None) -> tuple[str, list[int], dict[str, list[str]]]:
    """Read a CSV with a header: the file's name, each record's first line number, and the
    stripped cells of the ``required`` and present ``optional`` columns (matched ignoring case)."""
    raw, name = _read_bytes(source, name)
    text = decode(raw)
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise InputError(f"{name}:1: no header row (expected columns {', '.join(required)})")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    delimiter = max(counts, key=lambda sep: (counts[sep], sep == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    found = [cell.strip().lower() for cell in next(reader)]
    positions = {}
    for column in (*required, *optional):
        if column in found:
            positions[column] = found.index(column)
        elif column in required:
            raise InputError(f"{name}:1: missing column {column!r} (the header has: {', '.join(found)})")
    lines: list[int] = []
    cells: dict[str, list[str]] = {column: [] for column in positions}
    start = reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                lines.append(start)
                for column, position in positions.items():
                    cells[column].append(row[position].strip() if position < len(row) else "")
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputError(f"{name}:{reader.line_num}: not a readable CSV row ({error})") from None
    return name, lines, cells


def parse_dates(values: Sequence[str], lines: Sequence[int], name: str) -> pd.Series:
    """ISO dates or times (a year or a month means its first day); offsets converted to UTC."""
    text = pd.Series(list(values), dtype=object)
    short = text.str.fullmatch(r"\d{4}(-\d{2})?")
    padded = text.where(~short, text + np.where(text.str.len() == 4, "-01-01", "-01"))
    dates = pd.to_datetime(padded, format="ISO8601", errors="coerce", utc=True)
    bad = dates.isna().to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        shown = values[position]
        what = "empty" if not shown else f"{shown!r} is not an ISO date (e.g. 2021-03-05)"
        raise InputError(f"{name}:{lines[position]}: column 'date': {what}")
    return dates.dt.tz_localize(None)


def read_corpus(source: Path | bytes, name: str | None = None) -> pd.DataFrame:
    """Columns ``date`` (datetime), ``text`` and ``group`` (when present, None for empty cells),
    indexed by the line each record starts on. Empty texts are left out (counted in
    ``attrs["empty_texts"]``)."""
    name, lines, cells = csv_rows(source, required=("date", "text"), optional=("group",), name=name)
    if not lines:
        raise InputError(f"{name}: no texts below the header")
    frame = pd.DataFrame({"date": parse_dates(cells["date"], lines, name).to_numpy(), "text": cells["text"]},
                         index=pd.Index(lines, name="line"))
    if "group" in cells:
        frame["group"] = [None if g.lower() in MISSING_TOKENS else g for g in cells["group"]]
    empty = frame["text"] == ""
    frame = frame[~empty.to_numpy()]
    frame.attrs["empty_texts"] = int(empty.sum())
    if frame.empty:
        raise InputError(f"{name}: every text is empty")
    return frame


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
