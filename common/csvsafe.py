"""The one CSV writer of the platform: every CSV it writes (API exports long and wide, codebooks,
dashboard CSVs, my-data, Prolific lists, command-line output) goes through here, so no cell can
make a spreadsheet run a formula.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a
leading apostrophe (`'=1+1`), which spreadsheets show as text and which a reader can strip;
plain numbers (`-3`, `+1.5e3`) are left as they are, since a spreadsheet reads them as numbers
and runs nothing. Numbers, booleans and empty cells are never changed.

PostgreSQL's `COPY ... TO STDOUT` bypasses Python: `neutralize_sql(expression)` is the same rule
written in SQL for the columns of such a query.
"""

import csv
import io
import re
from collections.abc import Iterable, Mapping

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralize(value):
    """`value` with a leading apostrophe if a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value[:1] in TRIGGERS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralize_row(row: Iterable) -> list:
    return [neutralize(value) for value in row]


class Writer:
    """`csv.writer` whose cells are neutralized."""

    def __init__(self, file, **options):
        options.setdefault("lineterminator", "\n")
        self._writer = csv.writer(file, **options)

    def writerow(self, row: Iterable):
        return self._writer.writerow(neutralize_row(row))

    def writerows(self, rows: Iterable[Iterable]):
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """`csv.DictWriter` whose values are neutralized (the header is written as given)."""

    def __init__(self, file, fieldnames, **options):
        options.setdefault("lineterminator", "\n")
        super().__init__(file, fieldnames, **options)

    def writerow(self, rowdict: Mapping):
        return super().writerow({key: neutralize(value) for key, value in rowdict.items()})


def writer(file, **options) -> Writer:
    return Writer(file, **options)


def frame_to_csv(frame, **options) -> str:
    """A pandas data frame as CSV text (no index), its text cells neutralized."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype.kind in ("O", "U", "S", "T") or "str" in str(safe[column].dtype):
            safe[column] = safe[column].map(neutralize)
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, **options)
    return buffer.getvalue()


def neutralize_sql(expression: str) -> str:
    """The SQL (PostgreSQL) of `expression` as text, with the apostrophe rule of `neutralize`.
    `expression` appears once, so its placeholders keep their parameters: a zero-width match at
    the start of a formula-like cell that is not a plain number receives the apostrophe."""
    pattern = r"^(?![+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$)(?=[-=+@\t\r])"
    return f"regexp_replace(({expression})::text, '{pattern}', '''')"
