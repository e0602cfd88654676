"""The fast-SQL helpers read and write what the ORM reads and writes, on SQLite and PostgreSQL."""

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from common import fastsql
from surveys.models import Participant, Response, Submission, Wave
from tests.factories import (
    ArmFactory,
    ItemFactory,
    ParticipantFactory,
    StudyFactory,
    SubmissionFactory,
    WaveFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered():
    """One wave, three participants (one without an arm), two items; one answer is a missing code."""
    study = StudyFactory(slug="fast")
    arm = ArmFactory(study=study, name="control", is_control=True)
    wave = WaveFactory(study=study, number=1)
    first = ItemFactory(study=study, code="a", order=1)
    second = ItemFactory(study=study, code="b", order=2, kind="slider", scale_min=0, scale_max=2, step=0.25)
    people = [ParticipantFactory(study=study, arm=arm if n else None, groups={"side": n}) for n in range(3)]
    for n, person in enumerate(people):
        submission = SubmissionFactory(participant=person, wave=wave)
        Response.objects.create(submission=submission, item=first, value=n + 1)
        if n == 1:
            Response.objects.create(submission=submission, item=second, missing="dont_know")
        else:
            Response.objects.create(submission=submission, item=second, value=0.5 * n + 0.25)
    return study, wave, people


def test_the_table_name_comes_from_the_model():
    assert fastsql.table(Response) == connection.ops.quote_name(Response._meta.db_table)
    assert fastsql.table(Wave.items.through).strip('"`') == Wave.items.through._meta.db_table


def test_a_row_read_by_sql_is_the_instance_the_orm_reads(answered):
    _study, wave, people = answered
    p, w = fastsql.columns(Participant, "p"), fastsql.columns(Wave, "w")
    sql = (f'SELECT {p.sql}, {w.sql} FROM {fastsql.table(Participant)} p '
           f'LEFT JOIN {fastsql.table(Wave)} w ON w."study_id" = p."study_id" AND w."number" = %s '
           f'WHERE p."id" = %s')
    row = fastsql.rows(sql, [1, people[2].pk])[0]
    found, orm = fastsql.instance(p, row, 0), Participant.objects.get(pk=people[2].pk)
    assert [getattr(found, f.attname) for f in Participant._meta.concrete_fields] == \
        [getattr(orm, f.attname) for f in Participant._meta.concrete_fields]
    assert found.groups == {"side": 2} and isinstance(found.consented_at, dt.datetime | type(None))
    assert fastsql.instance(w, row, p.width).opens_at == Wave.objects.get(pk=wave.pk).opens_at
    missing = fastsql.rows(sql, [9, people[2].pk])[0]
    assert fastsql.instance(w, missing, p.width) is None  # the LEFT JOIN found no wave 9


def test_a_parameter_is_prepared_as_the_orm_prepares_it(answered):
    _study, wave, _people = answered
    later = wave.opens_at + dt.timedelta(seconds=1)
    rows = fastsql.rows(f'SELECT "number" FROM {fastsql.table(Wave)} WHERE "opens_at" < %s',
                        [fastsql.param(Wave, "opens_at", later)])
    assert rows == [(1,)]


def test_insert_sets_the_primary_key_and_stores_every_field(answered):
    _study, wave, people = answered
    Submission.objects.filter(participant=people[0]).delete()
    now = timezone.now()
    submission = Submission(participant=people[0], wave=wave, item_order=["b", "a"], user_agent_family="Firefox")
    fastsql.insert(submission)
    assert submission.pk and not submission._state.adding
    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.item_order, stored.user_agent_family, stored.page) == (["b", "a"], "Firefox", 0)
    assert abs(stored.started_at - now) < dt.timedelta(seconds=5)  # the default, as save() stores it


def test_insert_many_stores_the_named_fields_of_every_row(answered):
    _study, wave, people = answered
    item = ItemFactory(study=wave.study, code="c", order=3)
    now = timezone.now()
    rows = [Response(submission=submission, item=item, value=n, text="", missing="", answered_at=now,
                     response_time_ms=120) for n, submission in enumerate(Submission.objects.filter(wave=wave), 1)]
    fastsql.insert_many(rows, ("submission", "item", "value", "text", "missing", "response_time_ms", "answered_at"))
    fastsql.insert_many([], ("submission",))  # nothing to do
    stored = Response.objects.filter(item=item).order_by("value")
    assert [(r.value, r.response_time_ms, r.answered_at) for r in stored] == [(n, 120, now) for n in (1, 2, 3)]


def test_update_fields_changes_only_the_named_fields(answered):
    _study, wave, people = answered
    submission = Submission.objects.get(participant=people[0], wave=wave)
    submission.page, submission.user_agent_family = 3, "changed in memory only"
    fastsql.update_fields(submission, ["page"])
    stored = Submission.objects.get(pk=submission.pk)
    assert (stored.page, stored.user_agent_family) == (3, "")


def test_raw_rows_are_the_rows_of_the_query(answered):
    study, _wave, _people = answered
    query = Participant.objects.filter(study=study).order_by("id").values_list("id", "public_id")
    assert fastsql.raw_rows(query) == list(query)


def test_numeric_columns_keep_the_order_and_read_nulls_as_nan(answered):
    study, wave, people = answered
    query = (Response.objects.filter(submission__wave=wave).order_by("submission__participant_id", "item__order")
             .values_list("submission__participant_id", "item_id", "value", "submission__participant__arm_id"))
    participant, item, value, arm = fastsql.numeric_columns(query, "iiff")
    assert participant.dtype == np.int64 and value.dtype == np.float64
    assert participant.tolist() == [p.pk for p in people for _ in range(2)]
    np.testing.assert_array_equal(value, [1, 0.25, 2, np.nan, 3, 1.25])
    assert np.isnan(arm[:2]).all() and (arm[2:] == people[1].arm_id).all()
    assert item.tolist() == list(query.values_list("item_id", flat=True))


def test_numeric_columns_of_no_rows_are_empty(answered):
    _study, wave, _people = answered
    query = Response.objects.filter(submission__wave=wave, value__gt=100).values_list("id", "value")
    found = fastsql.numeric_columns(query, "if")
    assert [column.shape for column in found] == [(0,), (0,)]
    assert fastsql.float_matrix(query, 2).shape == (0, 2)


def test_numeric_columns_refuse_a_null_integer_and_unknown_kinds(answered):
    _study, wave, _people = answered
    query = Response.objects.filter(submission__wave=wave).order_by("id").values_list("id", "value")
    with pytest.raises(ValueError, match="integer column"):
        fastsql.numeric_columns(query, "ii")
    with pytest.raises(ValueError, match="kinds"):
        fastsql.numeric_columns(query, "ix")


def test_the_float_matrix_holds_the_rows_of_the_query(answered):
    _study, wave, people = answered
    query = (Submission.objects.filter(wave=wave).order_by("participant_id")
             .values_list("participant_id", "wave__number", "duration_seconds"))
    Submission.objects.filter(wave=wave).update(duration_seconds=12.5)
    Submission.objects.filter(participant=people[1]).update(duration_seconds=None)
    matrix = fastsql.float_matrix(query, 3)
    assert matrix.shape == (3, 3)
    assert matrix[:, 0].tolist() == [p.pk for p in people] and (matrix[:, 1] == 1).all()
    assert np.isnan(matrix[1, 2]) and matrix[[0, 2], 2].tolist() == [12.5, 12.5]
