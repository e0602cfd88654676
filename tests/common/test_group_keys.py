"""Group keys: one formatter and one parser for `all`, `<column>:<value>` and pairs."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import group_keys as keys


@pytest.mark.parametrize(("value", "shown"), [
    (1, "1"), (1.0, "1"), (-2.0, "-2"), (2.5, "2.5"), (np.float64(3.0), "3"), (np.float32(4.0), "4"),
    (np.int64(7), "7"), (1e20, "100000000000000000000"), ("left", "left"), ("1.0", "1.0"), ("", ""),
    (True, "True"), (math.inf, "inf"), (Fraction(3, 2), "3/2"),
])
def test_it_shows_whole_numbers_as_integers_and_text_as_written(value, shown):
    assert keys.format_value(value) == shown


@pytest.mark.parametrize("value", [None, math.nan, np.float64("nan")])
def test_a_missing_value_is_no_group(value):
    assert keys.format_value(value) is None
    assert keys.single("side", value) == "side:(none)"


def test_value_label_keys_are_read_as_numbers_when_they_are_numbers():
    assert keys.format_value("1.0", text_as_number=True) == "1"
    assert keys.format_value("2", text_as_number=True) == "2"
    assert keys.format_value("0.5", text_as_number=True) == "0.5"
    assert keys.format_value("left", text_as_number=True) == "left"
    assert keys.format_value("nan", text_as_number=True) is None


def test_a_value_stands_for_the_stored_text_and_numbers():
    assert keys.stored_values("1") == ["1", 1.0, 1]
    assert keys.stored_values("2.5") == ["2.5", 2.5]
    assert keys.stored_values("left") == ["left"]
    assert all(keys.format_value(v) == "1" for v in keys.stored_values("1"))


def test_it_formats_the_three_forms():
    assert keys.ALL == "all"
    assert keys.arm("contact") == "arm:contact"
    assert keys.single("side", 1.0) == "side:1"
    assert keys.single("side", "left") == "side:left"
    assert keys.pair(keys.single("side", 1), keys.single("side", 2.0)) == "side:1|side:2"


def test_it_parses_the_three_forms():
    assert keys.parse("all").is_all
    one = keys.parse("arm:contact")
    assert (one.column, one.value, one.is_single, one.is_pair) == ("arm", "contact", True, False)
    assert keys.parse("side:a:b").values == ("a:b",)  # only the first colon separates
    two = keys.parse("side:1|side:2")
    assert (two.column, two.values, two.is_pair) == ("side", ("1", "2"), True)
    with pytest.raises(ValueError, match="not a single group"):
        two.value  # noqa: B018


@pytest.mark.parametrize("key", ["", "side", "side:", ":1", "all|all", "side:1|", "side:1|side:2|side:3",
                                 "side:1|arm:x", "|side:1", None, 1])
def test_a_bad_key_raises_a_clear_value_error(key):
    with pytest.raises(ValueError, match="is not a group key"):
        keys.parse(key)


def test_a_filter_refuses_a_pair():
    with pytest.raises(ValueError, match="give one group .*, not a pair"):
        keys.parse("side:1|side:2", pairs=False)
    with pytest.raises(ValueError, match=r"use all, arm:<name> or <grouping code>:<value>\.$"):
        keys.parse("side", pairs=False)
    assert keys.parse("side:1", pairs=False).value == "1"


def test_pair_helpers():
    assert keys.is_pair("side:1|side:2") and not keys.is_pair("side:1")
    assert keys.split_pair("side:1|side:2") == ("side:1", "side:2")
    with pytest.raises(ValueError):
        keys.split_pair("side:1")
    assert keys.of_column("side:1", "side") and keys.of_column("side:1|side:2", "side")
    assert not keys.of_column("sides:1", "side") and not keys.of_column("all", "side")
    assert not keys.of_column("arm:a|side:2", "arm")


values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), min_size=1))
codes = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@given(codes, values, values)
def test_formatted_keys_parse_back(code, a, b):
    first, second = keys.single(code, a), keys.single(code, b)
    parsed = keys.parse(first)
    assert (parsed.column, parsed.value) == (code, keys.format_value(a)) and str(parsed) == first
    both = keys.parse(keys.pair(first, second))
    assert both.values == (keys.format_value(a), keys.format_value(b))
    assert str(both) == keys.pair(first, second)
    if isinstance(a, float) and a.is_integer():
        assert parsed.value == str(int(a))
