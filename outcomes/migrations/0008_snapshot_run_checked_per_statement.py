"""The snapshot's run is checked per statement by triggers (outcomes/run_key.py, created after
every migrate), not per row by a foreign key: drop the key, Django's and the composite one
tenancy.join_constraints added on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

_RUN_KEYS_SQL = """
SELECT con.conname FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_class frel ON frel.oid = con.confrelid
WHERE con.contype = 'f' AND rel.relname = 'outcomes_successgapsnapshot'
  AND frel.relname = 'outcomes_successgaprun'
  AND rel.relnamespace = to_regnamespace(current_schema())
"""


def drop_run_keys(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # SQLite: AlterField rebuilt the table without the key
    with connection.cursor() as cursor:
        cursor.execute(_RUN_KEYS_SQL)
        for (name,) in cursor.fetchall():
            cursor.execute(
                "ALTER TABLE outcomes_successgapsnapshot DROP CONSTRAINT "
                + connection.ops.quote_name(name)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0007_ax_required_cadence_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="successgapsnapshot",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="snapshots",
                to="outcomes.successgaprun",
            ),
        ),
        migrations.RunPython(drop_run_keys, migrations.RunPython.noop),
    ]
