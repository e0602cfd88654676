"""The demo study, built once per test session and laid into each test that asks for it.

`manage.py seed_demo` takes many seconds (simulation, indices of every wave, effects), and several
tests need its result. `demo_snapshot` runs the command once per session inside a transaction that
it rolls back, after copying every row the command wrote; `demo_study` inserts those rows again,
primary keys included, into the test's own database transaction, so each test still starts from the
same data and leaves nothing behind. A transactional test (live server, real workers) gets the rows
committed, and they are flushed after it like any other data. The same code works on SQLite and
PostgreSQL. Tests of `seed_demo` itself run the command again where they need to (`--reset`).
"""

import io
from dataclasses import dataclass
from functools import cached_property

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

DEMO_PARTICIPANTS = 120  # enough for every page and effect to have something to show; the default is 600


@dataclass(frozen=True)
class DemoSnapshot:
    """The rows `seed_demo` wrote, table by table in an order that satisfies foreign keys."""

    tables: tuple  # (model, rows) per table with new rows; a row holds the values of its columns
    output: str  # what the command printed (stdout, then stderr)

    @cached_property
    def inserts(self) -> list[tuple[str, list[tuple]]]:
        """One INSERT per table and its rows as the database takes them. Plain SQL, not
        bulk_create, which would stamp auto_now fields with the time of the restore."""
        quote = connection.ops.quote_name
        statements = []
        for model, rows in self.tables:
            fields = model._meta.local_concrete_fields
            sql = "INSERT INTO {} ({}) VALUES ({})".format(
                quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields), ", ".join(["%s"] * len(fields)))
            prepared = [tuple(f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True))
                        for row in rows]
            statements.append((sql, prepared))
        return statements

    def restore(self):
        """Insert the rows into the current database; returns the demo study."""
        from surveys.models import Study

        with transaction.atomic(), connection.cursor() as cursor:
            for sql, rows in self.inserts:
                cursor.executemany(sql, rows)
            if connection.vendor == "postgresql":  # the next id of each table follows the restored rows
                for statement in connection.ops.sequence_reset_sql(no_style(), [m for m, _ in self.tables]):
                    cursor.execute(statement)
        return Study.objects.get(slug="demo")


def _models() -> list:
    """Every table's model, parents before the models that point at them."""
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]
    ordered, placed = [], set()

    def place(model, path=()):
        if model in placed or model in path:
            return
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is not None and target is not model:
                place(target._meta.concrete_model, (*path, model))
        placed.add(model)
        ordered.append(model)

    for model in models:
        place(model)
    return [m for m in ordered if m in models]


def _rows(model) -> dict:
    """Every row of the model's own table (the values of its columns) by primary key."""
    fields = [f.attname for f in model._meta.local_concrete_fields]
    pk = fields.index(model._meta.pk.attname)
    return {row[pk]: row for row in model._base_manager.values_list(*fields)}


def take_demo_snapshot(participants: int = DEMO_PARTICIPANTS) -> DemoSnapshot:
    """Run `seed_demo` in a transaction, copy the rows it added, roll it back."""
    models = _models()
    before = {model: _rows(model) for model in models}
    out, err = io.StringIO(), io.StringIO()
    tables = []
    with transaction.atomic():
        call_command("seed_demo", "--participants", str(participants), "--without-gss", stdout=out, stderr=err)
        for model in models:
            after = _rows(model)
            changed = [pk for pk, row in before[model].items() if after.get(pk) != row]
            if changed:  # a restore only inserts; it could not replay this
                raise RuntimeError(f"seed_demo changed or deleted existing {model.__name__} rows {changed[:5]}")
            new = [row for pk, row in after.items() if pk not in before[model]]
            if new:
                tables.append((model, new))
        transaction.set_rollback(True)
    return DemoSnapshot(tables=tuple(tables), output=out.getvalue() + err.getvalue())


@pytest.fixture(scope="session")
def demo_snapshot(django_db_setup, django_db_blocker) -> DemoSnapshot:
    """The demo study's rows, built once per test session (see the module's docstring)."""
    with django_db_blocker.unblock():
        return take_demo_snapshot()


@pytest.fixture
def demo_study(db, demo_snapshot):
    """The demo study of `seed_demo` (DEMO_PARTICIPANTS participants), in this test's database."""
    return demo_snapshot.restore()
