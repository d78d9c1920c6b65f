from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0003_initial"),
        ("members", "0005_memberimport"),
        ("outcomes", "0003_updated_at"),
        ("tenancy", "0005_domainevent_webhook_kinds"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="engagement",
            name="engagement_org_seat",
        ),
        migrations.AddIndex(
            model_name="contextevent",
            index=models.Index(
                fields=["organization", "occurred_at", "id"], name="context_org_stream"
            ),
        ),
        migrations.AddIndex(
            model_name="engagement",
            index=models.Index(
                fields=["organization", "seat", "occurred_at"],
                include=("id", "direction", "duration_minutes"),
                name="engagement_org_seat",
            ),
        ),
        migrations.AddIndex(
            model_name="engagement",
            index=models.Index(
                fields=["organization", "occurred_at", "id"], name="engagement_org_stream"
            ),
        ),
    ]
