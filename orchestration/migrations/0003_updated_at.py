"""``updated_at`` on orchestrated events, tasks and nudges, so ``?updated_since=`` is exact.

Existing rows get the latest moment they recorded (never later than the migration), one UPDATE
per table: what the former approximation of ``updated_since`` read, so a client that synced
before the migration neither misses rows nor fetches everything again.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

MOMENTS = {
    "orchestratedevent": ("announced_at", "happened_at", "confirmed_at", "closed_at"),
    "task": ("done_at",),
    "nudge": ("claimed_at", "sent_at"),
}


def backfill(apps, schema_editor):
    now = timezone.now()
    for model_name, moments in MOMENTS.items():
        model = apps.get_model("orchestration", model_name)
        latest = Greatest("created_at", *(Coalesce(moment, "created_at") for moment in moments))
        model.objects.using(schema_editor.connection.alias).update(
            updated_at=Least(latest, models.Value(now, output_field=models.DateTimeField()))
        )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_memberimport"),
        ("orchestration", "0002_domaineventcursor"),
        ("tenancy", "0005_domainevent_webhook_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="nudge",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddField(
            model_name="orchestratedevent",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddField(
            model_name="task",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="orchestratedevent",
            index=models.Index(fields=["organization", "updated_at"], name="event_org_updated"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["organization", "updated_at"], name="task_org_updated"),
        ),
    ]
