"""Whatever a file holds, validation answers with problems, never an exception (hypothesis)."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.spec.validate import validate_spec

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_document_gives_a_list_of_problems(data):
    assert isinstance(validate_spec(data), list)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_value_anywhere_in_a_valid_spec_gives_problems_not_an_exception(every_kind, data):
    spec = copy.deepcopy(every_kind)
    target = spec
    while isinstance(target, dict | list) and target:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        key = data.draw(st.sampled_from(keys))
        if not isinstance(target[key], dict | list) or data.draw(st.booleans()):
            target[key] = data.draw(JSON)
            break
        target = target[key]
    assert isinstance(validate_spec(spec), list)
