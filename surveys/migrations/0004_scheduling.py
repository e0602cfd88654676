# Reserved for wave scheduling, participant contact and messages (issue 9).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0003_participant_survey"),
    ]

    operations = []
