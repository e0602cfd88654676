from django.core.management.base import BaseCommand, CommandError

from surveys import summaries
from surveys.models import Study


class Command(BaseCommand):
    help = ("Count the panel counts of the overview and attrition pages, and the stratum counts of the quotas, "
            "again from the raw rows (after rows were loaded around the write path: a restore, a bulk import). "
            "Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="studies to count (default: every study)")

    def handle(self, *args, slugs, **options):
        studies = Study.objects.order_by("slug")
        if slugs:
            studies = studies.filter(slug__in=slugs)
            missing = sorted(set(slugs) - set(studies.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No such study: {', '.join(missing)}.")
        for study in studies:
            summaries.recount_study(study.pk)
            self.stderr.write(f"{study.slug}: counted")
