"""The design change log: every change to a launched study's design, who made it and when."""

from django.conf import settings
from django.db import models

from surveys.models.study import Study


class DesignChange(models.Model):
    """One changed value of a launched study's design (a path in its specification), with the
    value before and after. Written by the one service that changes designs
    (`surveys.spec.service.apply_spec`) and, around their writes, by the design API and the admin
    (`logging_design_changes`); shown on the design page and in the codebook export."""

    class Source(models.TextChoices):
        BUILDER = "builder", "builder"
        IMPORT = "import", "import (command line)"
        API = "api", "API"
        ADMIN = "admin", "admin"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="design_changes")
    changed_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    source = models.CharField(max_length=8, choices=Source.choices)
    path = models.CharField(max_length=300, help_text="Where in the specification, e.g. items.q1.prompt.en.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["study", "-changed_at", "id"]
        indexes = [models.Index(fields=["study", "changed_at"], name="design_change_study_time")]

    def __str__(self) -> str:
        return f"{self.study.slug} {self.path} ({self.changed_at:%Y-%m-%d %H:%M})"
