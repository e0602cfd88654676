"""Group keys: the names of the groups an index, an effect or a filter refers to.

A key is one of
- ``all``: everyone;
- ``<column>:<value>``: one group, ``arm:<name>`` or ``<grouping code>:<value>``;
- ``<column>:<a>|<column>:<b>``: a pair of groups of the same column; signed values of pair
  indices are A minus B, in the order the key lists them.

Values are shown as they are stored, except numbers: a whole number is written as an integer
(``side:1``, never ``side:1.0``). Participants without a value for a column count, in the
answer counts only, as ``<column>:(none)``.

Every part of the platform formats and parses keys here (indices, effects, text indices,
dashboards, API filters, exports). Pure Python: no Django, no numpy.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

ALL = "all"
ARM = "arm"
SEPARATOR = ":"
PAIR_SEPARATOR = "|"
NO_VALUE = "(none)"

_FORMS = "all, arm:<name>, <grouping code>:<value> or <code>:<a>|<code>:<b>"
_FILTER_FORMS = "all, arm:<name> or <grouping code>:<value>"


def format_value(value, *, text_as_number: bool = False) -> str | None:
    """A group value as a key shows it: whole numbers as integers (1.0 -> "1"), other numbers
    and text as written; None and NaN -> None (no group). ``text_as_number``: read text that is
    a number as that number ("1.0" -> "1"), for value labels, whose keys are text."""
    if value is None:
        return None
    if isinstance(value, str):
        if not text_as_number:
            return value
        try:
            number = float(value)
        except ValueError:
            return value
        if number != number:
            return None
        return str(int(number)) if number.is_integer() else value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number:
            return None
        return str(int(number)) if number.is_integer() else str(value)
    return str(value)


def stored_values(value: str) -> list:
    """The JSON values a key's value stands for: the text itself, and when it reads as a number
    that number (and the integer when whole): "1" -> ["1", 1.0, 1]; the inverse of
    :func:`format_value`, for filtering stored answers by a key."""
    try:
        number = float(value)
    except ValueError:
        return [value]
    return [value, number, int(number)] if number.is_integer() else [value, number]


def single(column: str, value) -> str:
    """``<column>:<value>``, the value formatted as :func:`format_value` does (None -> ``(none)``)."""
    shown = format_value(value)
    return f"{column}{SEPARATOR}{NO_VALUE if shown is None else shown}"


def arm(name: str) -> str:
    """``arm:<name>``."""
    return single(ARM, name)


def pair(first: str, second: str) -> str:
    """The key of two single-group keys of one column, ``<first>|<second>`` (values A minus B).
    Formats without checking, like :func:`single`; :func:`parse` checks."""
    return f"{first}{PAIR_SEPARATOR}{second}"


@dataclass(frozen=True)
class GroupKey:
    """A parsed key: ``column`` None for ``all``; ``values`` one value for a group, two for a pair."""

    column: str | None = None
    values: tuple[str, ...] = ()

    @property
    def is_all(self) -> bool:
        return self.column is None

    @property
    def is_single(self) -> bool:
        return len(self.values) == 1

    @property
    def is_pair(self) -> bool:
        return len(self.values) == 2

    @property
    def value(self) -> str:
        """The value of a single-group key."""
        if not self.is_single:
            raise ValueError(f"{self} is not a single group")
        return self.values[0]

    def __str__(self) -> str:
        if self.is_all:
            return ALL
        return PAIR_SEPARATOR.join(f"{self.column}{SEPARATOR}{value}" for value in self.values)


def _single(key: str, part: str, forms: str) -> tuple[str, str]:
    column, separator, value = part.partition(SEPARATOR)
    if not separator or not column or not value:
        raise ValueError(f"{key!r} is not a group key: use {forms}.")
    return column, value


def parse(key: str, *, pairs: bool = True) -> GroupKey:
    """The parts of a key; ValueError (naming the key and the forms a key takes) for anything
    else, and for a pair when ``pairs`` is False (a filter selects one group)."""
    forms = _FORMS if pairs else _FILTER_FORMS
    if not isinstance(key, str):
        raise ValueError(f"{key!r} is not a group key: use {forms}.")
    if key == ALL:
        return GroupKey()
    parts = key.split(PAIR_SEPARATOR)
    if len(parts) == 1:
        column, value = _single(key, key, forms)
        return GroupKey(column, (value,))
    if not pairs:
        raise ValueError(f"{key!r} is not a group key here: give one group ({forms}), not a pair.")
    if len(parts) != 2:
        raise ValueError(f"{key!r} is not a group key: a pair joins two groups ({forms}).")
    (column, first), (other, second) = _single(key, parts[0], forms), _single(key, parts[1], forms)
    if column != other:
        raise ValueError(f"{key!r} is not a group key: a pair compares two groups of one column.")
    return GroupKey(column, (first, second))


def is_pair(key: str) -> bool:
    """Whether a (well-formed) key names a pair of groups; cheap enough for long lists."""
    return PAIR_SEPARATOR in key


def split_pair(key: str) -> tuple[str, str]:
    """The two single-group keys of a (well-formed) pair key, A then B."""
    first, separator, second = key.partition(PAIR_SEPARATOR)
    if not separator:
        raise ValueError(f"{key!r} is not a pair of groups")
    return first, second


def of_column(key: str, column: str) -> bool:
    """Whether a (well-formed) single or pair key groups by ``column`` (``all`` never does)."""
    prefix = f"{column}{SEPARATOR}"
    return key.startswith(prefix) and all(part.startswith(prefix) for part in key.split(PAIR_SEPARATOR))
