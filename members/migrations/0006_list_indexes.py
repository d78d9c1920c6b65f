from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_memberimport"),
        ("orchestration", "0003_updated_at"),
        ("tenancy", "0005_domainevent_webhook_kinds"),
    ]

    operations = [
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
                models.OrderBy(models.F("success_gap"), descending=True),
                models.F("name"),
                models.F("id"),
                name="member_org_risk",
            ),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["organization", "name", "id"], name="member_org_name"),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["organization", "tier"], name="member_org_tier"),
        ),
    ]
