"""Triggers for the two invariants that span tables and so cannot be CHECK constraints:

- an answer's value lies on its item's scale (min..max, on the step grid, never on a text item);
- an item's scale is frozen once it has answers.

The same rules are checked in Python (Item.clean, Response.clean) for readable messages; the
triggers make them hold for every writer, including raw SQL and bulk imports.
"""

from django.db import migrations

_ON_SCALE = (
    "i.kind <> 'text' AND {v} >= i.scale_min AND {v} <= i.scale_max "
    "AND abs(({v} - i.scale_min) / i.step - round(({v} - i.scale_min) / i.step)) < 1e-9"
).format(v="NEW.value")

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER response_value_on_scale_{op.lower()} BEFORE {op} ON surveys_response
    WHEN NEW.value IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM surveys_item i WHERE i.id = NEW.item_id AND {_ON_SCALE})
    BEGIN SELECT RAISE(ABORT, 'response value is not on the scale of its item'); END;
    """
    for op in ("INSERT", "UPDATE")
] + [
    """
    CREATE TRIGGER item_scale_frozen BEFORE UPDATE ON surveys_item
    WHEN (OLD.kind IS NOT NEW.kind OR OLD.scale_min IS NOT NEW.scale_min
          OR OLD.scale_max IS NOT NEW.scale_max OR OLD.step IS NOT NEW.step
          OR OLD.reverse_coded IS NOT NEW.reverse_coded OR OLD.dont_know IS NOT NEW.dont_know)
      AND EXISTS (SELECT 1 FROM surveys_response r WHERE r.item_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'item scale is frozen: the item has answers'); END;
    """
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS response_value_on_scale_insert;",
    "DROP TRIGGER IF EXISTS response_value_on_scale_update;",
    "DROP TRIGGER IF EXISTS item_scale_frozen;",
]

POSTGRES_FORWARD = [
    f"""
    CREATE FUNCTION surveys_response_value_on_scale() RETURNS trigger AS $$
    BEGIN
        IF NEW.value IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM surveys_item i WHERE i.id = NEW.item_id AND {_ON_SCALE}
        ) THEN
            RAISE EXCEPTION 'response value % is not on the scale of item %', NEW.value, NEW.item_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER response_value_on_scale BEFORE INSERT OR UPDATE ON surveys_response
    FOR EACH ROW EXECUTE FUNCTION surveys_response_value_on_scale();
    """,
    """
    CREATE FUNCTION surveys_item_scale_frozen() RETURNS trigger AS $$
    BEGIN
        IF (OLD.kind, OLD.scale_min, OLD.scale_max, OLD.step, OLD.reverse_coded, OLD.dont_know)
           IS DISTINCT FROM (NEW.kind, NEW.scale_min, NEW.scale_max, NEW.step, NEW.reverse_coded, NEW.dont_know)
           AND EXISTS (SELECT 1 FROM surveys_response r WHERE r.item_id = OLD.id) THEN
            RAISE EXCEPTION 'scale of item % is frozen: it has answers', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER item_scale_frozen BEFORE UPDATE ON surveys_item
    FOR EACH ROW EXECUTE FUNCTION surveys_item_scale_frozen();
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS response_value_on_scale ON surveys_response;",
    "DROP FUNCTION IF EXISTS surveys_response_value_on_scale();",
    "DROP TRIGGER IF EXISTS item_scale_frozen ON surveys_item;",
    "DROP FUNCTION IF EXISTS surveys_item_scale_frozen();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(
                f"scale triggers exist for SQLite and PostgreSQL, not {schema_editor.connection.vendor}"
            )
        for statement in statements:
            schema_editor.execute(statement, params=None)  # no placeholders: '%' is plpgsql's

    return run


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
