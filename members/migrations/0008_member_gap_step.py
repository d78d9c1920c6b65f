"""The risk order's index holds the gap in whole points (``Member.success_gap_step``, a column
the database computes) instead of the gap, and the band's index holds the band alone, so the
nightly scoring's small moves of members' gaps touch no index: on PostgreSQL they are heap-only
updates, which also need room on the row's page, hence a fill factor of 80 for the member table.
It is set before the column is added, so that the rewrite the new column causes leaves that room
on every page of an existing table.
"""

import django.db.models.functions.comparison
from django.db import migrations, models

MEMBER_FILL_FACTOR = 80


def leave_room_for_updates(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE members_member SET (fillfactor = {MEMBER_FILL_FACTOR})")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_search_index"),
        ("orchestration", "0004_nudge_partial_fk_indexes"),
        ("tenancy", "0005_domainevent_webhook_kinds"),
    ]

    operations = [
        migrations.RunPython(leave_room_for_updates, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="member",
            name="member_org_band",
        ),
        migrations.RemoveIndex(
            model_name="member",
            name="member_org_risk",
        ),
        migrations.AddField(
            model_name="member",
            name="success_gap_step",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.comparison.Cast(
                    "success_gap", models.IntegerField()
                ),
                output_field=models.IntegerField(null=True),
            ),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                models.F("organization"),
                models.Case(
                    models.When(success_band="at_risk", then=models.Value(0)),
                    models.When(success_band="watch", then=models.Value(1)),
                    models.When(success_band="on_track", then=models.Value(2)),
                    models.When(success_band="no_outcome", then=models.Value(3)),
                    default=models.Value(4),
                    output_field=models.IntegerField(),
                ),
                models.OrderBy(models.F("success_gap_step"), descending=True),
                models.F("name"),
                models.F("id"),
                name="member_org_risk",
            ),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["organization", "success_band"], name="member_org_band"),
        ),
    ]
