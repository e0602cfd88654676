from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("analysis", "0004_dashboard_store"),
    ]

    operations = [
        migrations.AddField(
            model_name="analysisrun",
            name="dispatched_at",
            field=models.DateTimeField(blank=True, help_text="When its task was last handed to the broker (empty: never).", null=True),
        ),
        migrations.AddField(
            model_name="analysisrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, help_text="Last sign of life of the worker computing it.", null=True),
        ),
    ]
