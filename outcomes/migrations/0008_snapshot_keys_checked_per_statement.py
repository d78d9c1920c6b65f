"""The snapshot's member and run are checked per statement by triggers (outcomes/snapshot_keys.py,
created after every migrate), not per row by foreign keys, and its organization through them:
drop the keys, Django's and the composite ones tenancy.join_constraints added on PostgreSQL.
The triggers also delete a deleted member's or run's snapshots, through the organization-led
indexes, so the member's own index goes."""

import django.db.models.deletion
from django.db import migrations, models

_KEYS_SQL = """
SELECT con.conname FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
WHERE con.contype = 'f' AND rel.relname = 'outcomes_successgapsnapshot'
  AND rel.relnamespace = to_regnamespace(current_schema())
"""


def drop_keys(apps, schema_editor):
    """Every foreign key the snapshot table has left: its three columns were its only ones."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # SQLite: AlterField rebuilt the table without them
    with connection.cursor() as cursor:
        cursor.execute(_KEYS_SQL)
        for (name,) in cursor.fetchall():
            cursor.execute(
                "ALTER TABLE outcomes_successgapsnapshot DROP CONSTRAINT "
                + connection.ops.quote_name(name)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_search_index"),
        ("outcomes", "0007_ax_required_cadence_index"),
        ("tenancy", "0005_domainevent_webhook_kinds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="successgapsnapshot",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AlterField(
            model_name="successgapsnapshot",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="snapshots",
                to="outcomes.successgaprun",
            ),
        ),
        migrations.AlterField(
            model_name="successgapsnapshot",
            name="member",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="gap_snapshots",
                to="members.member",
            ),
        ),
        migrations.RunPython(drop_keys, migrations.RunPython.noop),
    ]
