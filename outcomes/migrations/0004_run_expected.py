from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0003_updated_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="successgaprun",
            name="members_expected",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="successgaprun",
            name="repairs",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
