# Reserved for personal API tokens and the export audit log (issue 8).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0004_scheduling"),
    ]

    operations = []
