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
            index=models.Index(fields=["organization", "tier"], name="member_org_tier"),
        ),
    ]
