# Personal API tokens and the export audit log.
import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0004_scheduling"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text="What the token is for, e.g. 'R on my laptop'.", max_length=100)),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('hint', models.CharField(editable=False, help_text='The first characters of the secret, to tell tokens apart.', max_length=12)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ExportAudit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('username', models.CharField(help_text='Kept when the user is deleted.', max_length=150)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('what', models.CharField(help_text='data or codebook.', max_length=16)),
                ('format', models.CharField(max_length=16)),
                ('shape', models.CharField(max_length=8)),
                ('parameters', models.JSONField(blank=True, default=dict, help_text='Filters and options of the request.')),
                ('excluded_included', models.BooleanField(default=False)),
                ('external_ids_included', models.BooleanField(default=False)),
                ('study', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='export_audits', to='surveys.study')),
                ('token', models.ForeignKey(blank=True, help_text='Empty for a browser session.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='exports', to='surveys.apitoken')),
                ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddConstraint(
            model_name='apitoken',
            constraint=models.CheckConstraint(condition=django.db.models.lookups.Exact(django.db.models.functions.text.Length('token_hash'), 64), name='apitoken_hash_is_sha256'),
        ),
        migrations.AddIndex(
            model_name='exportaudit',
            index=models.Index(fields=['study', 'created_at'], name='exportaudit_study_time'),
        ),
    ]
