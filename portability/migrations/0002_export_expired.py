from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portability", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dataexport",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("expired", "Expired (file removed)"),
                ],
                default="queued",
                max_length=8,
            ),
        ),
    ]
