"""API access: personal tokens and the audit log of exports."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone

from surveys.models.participants import hash_secret
from surveys.models.study import Study

# --- API access -------------------------------------------------------------------------------------

#: Personal API tokens start with this, so a leaked one is recognisable (e.g. by secret scanners).
API_TOKEN_PREFIX = "dsg_"


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A researcher's personal API token. The secret is shown once; the database keeps its SHA-256.

    A token acts as its user: the user's role in each study decides what it may read and write.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'R on my laptop'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The first characters of the secret, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Exact(Length("token_hash"), 64), name="apitoken_hash_is_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…, {'revoked' if self.revoked_at else 'active'})"

    @classmethod
    def issue(cls, user, *, name: str) -> tuple["ApiToken", str]:
        """Create a token; returns it with the secret, which is never stored and cannot be recovered."""
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
        token = cls.objects.create(user=user, name=name, token_hash=hash_secret(secret),
                                   hint=secret[: len(API_TOKEN_PREFIX) + 6])
        return token, secret

    @classmethod
    def lookup(cls, secret: str) -> "ApiToken | None":
        """The token for `secret` (revoked ones too, so the caller can say so), or None."""
        if not secret or len(secret) > 128:
            return None
        return cls.objects.select_related("user").filter(token_hash=hash_secret(secret)).first()


class ExportAudit(models.Model):
    """One export or codebook download: who, when, what (the audit log of data leaving the platform)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="export_audits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="exports",
                              help_text="Empty for a browser session.")
    created_at = models.DateTimeField(default=timezone.now)
    what = models.CharField(max_length=16, help_text="data or codebook.")
    format = models.CharField(max_length=16)
    shape = models.CharField(max_length=8)
    parameters = models.JSONField(default=dict, blank=True, help_text="Filters and options of the request.")
    excluded_included = models.BooleanField(default=False)
    external_ids_included = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "created_at"], name="exportaudit_study_time")]

    def __str__(self) -> str:
        return f"{self.username} exported {self.what} of {self.study.slug} as {self.format} ({self.created_at:%Y-%m-%d %H:%M})"
