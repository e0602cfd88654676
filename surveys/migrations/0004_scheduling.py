# Wave scheduling, participant contact, messages and retention records.
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import surveys.models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0003_participant_survey"),
    ]

    operations = [
        migrations.AddField(
            model_name='study',
            name='collect_email',
            field=models.BooleanField(default=False, help_text='Ask on the consent page for an optional e-mail address for invitations and reminders.'),
        ),
        migrations.AddField(
            model_name='study',
            name='last_chance_hours',
            field=models.PositiveIntegerField(blank=True, default=24, help_text='Hours before a wave closes for the last-chance reminder (empty: none).', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='reminder_delays_hours',
            field=models.JSONField(blank=True, default=surveys.models.default_reminder_delays, help_text='Hours after a wave opens at which those who have not completed it are reminded, e.g. [24, 72].'),
        ),
        migrations.AddField(
            model_name='study',
            name='retention_deletes_answers',
            field=models.BooleanField(default=False, help_text='When the retention period ends, delete the answers too (not only e-mail and external ids).'),
        ),
        migrations.AddField(
            model_name='wave',
            name='completion_code',
            field=models.CharField(blank=True, help_text='Prolific completion code of this wave; finishing redirects to Prolific with it.', max_length=64),
        ),
        migrations.AddField(
            model_name='wave',
            name='completion_url',
            field=models.URLField(blank=True, help_text="Where participants go after completing this wave (overrides the code and the study's URL).", max_length=500),
        ),
        migrations.CreateModel(
            name='DataDeletion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ran_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('due_at', models.DateTimeField(help_text='End of the retention period.')),
                ('contacts_deleted', models.PositiveIntegerField(default=0)),
                ('external_ids_cleared', models.PositiveIntegerField(default=0)),
                ('participants_answers_deleted', models.PositiveIntegerField(default=0)),
                ('study', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='data_deletions', to='surveys.study')),
            ],
            options={
                'ordering': ['-ran_at'],
            },
        ),
        migrations.CreateModel(
            name='ParticipantContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.EmailField(max_length=254)),
                ('consented_at', models.DateTimeField(default=django.utils.timezone.now, help_text='When the participant agreed to e-mails.')),
                ('participant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='contact', to='surveys.participant')),
            ],
            options={
                'ordering': ['participant'],
            },
        ),
        migrations.CreateModel(
            name='Message',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=12)),
                ('status', models.CharField(choices=[('pending', 'pending'), ('queued', 'queued'), ('sending', 'sending'), ('sent', 'sent'), ('given_up', 'given up'), ('skipped', 'skipped'), ('interrupted', 'interrupted')], default='pending', max_length=12)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('participant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='surveys.participant')),
                ('wave', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='surveys.wave')),
            ],
            options={
                'ordering': ['wave', 'participant', 'created_at'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='message_status_due')],
                'constraints': [models.UniqueConstraint(fields=('participant', 'wave', 'kind'), name='message_one_per_participant_wave_kind'), models.CheckConstraint(condition=models.Q(('kind__in', ['invitation', 'reminder1', 'reminder2', 'reminder3', 'reminder4', 'reminder5', 'reminder6', 'reminder7', 'reminder8', 'reminder9', 'reminder10', 'last_chance'])), name='message_kind_valid'), models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'queued', 'sending', 'sent', 'given_up', 'skipped', 'interrupted'])), name='message_status_valid'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'sent'), _negated=True), ('sent_at__isnull', False), _connector='OR'), name='message_sent_has_time')],
            },
        ),
        migrations.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('invitation', 'invitation'), ('reminder', 'reminder'), ('last_chance', 'last-chance reminder')], max_length=12)),
                ('language', models.CharField(max_length=8)),
                ('subject', models.CharField(max_length=200)),
                ('body', models.TextField(help_text='Must contain {{ link }} and {{ unsubscribe_link }}.')),
                ('study', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='message_templates', to='surveys.study')),
            ],
            options={
                'ordering': ['study', 'kind', 'language'],
                'constraints': [models.UniqueConstraint(fields=('study', 'kind', 'language'), name='message_template_unique'), models.CheckConstraint(condition=models.Q(('kind__in', ['invitation', 'reminder', 'last_chance'])), name='message_template_kind_valid')],
            },
        ),
    ]
