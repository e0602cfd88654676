from django.conf import settings
from django.core.management.base import BaseCommand

from analysis.demo import seed_demo_study
from analysis.pipeline.enqueue import waves_needing_indices
from analysis.pipeline.indices import compute_wave_indices
from analysis.series.cross_sections import seed_gss_demo


class Command(BaseCommand):
    help = "Build the demo study from the panel simulation (idempotent) and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--participants", type=int, default=600, help="simulated participants (default 600)")
        parser.add_argument("--seed", type=int, default=2026, help="simulation seed (default 2026)")
        parser.add_argument("--reset", action="store_true", help="delete and rebuild the demo study")
        parser.add_argument("--without-gss", action="store_true",
                            help="skip the second demo study 'gss' (GSS counts as repeated cross-sections)")

    def handle(self, *args, participants, seed, reset, without_gss=False, **options):
        result = seed_demo_study(participants=participants, seed=seed, reset=reset)
        if not without_gss:
            gss, created = seed_gss_demo(owner=result.username)
            for wave in waves_needing_indices(study_id=gss.pk):
                compute_wave_indices(study_id=gss.pk, wave_id=wave.pk)
            self.stderr.write(f"Demo study 'gss' {'built' if created else 'already there, unchanged'}: "
                              f"{gss.waves.count()} periods, {gss.items.count()} items.")
        study = result.study
        state = "built" if result.created else "already there, unchanged"
        self.stderr.write(
            f"Demo study '{study.slug}' {state}: {study.participants.count()} participants, "
            f"{study.waves.count()} waves, {study.items.count()} items."
        )
        self.stdout.write(
            "\n"
            f"  Researcher login: {settings.SITE_URL}/accounts/login/  user {result.username}  "
            f"password {result.password}  (studies at /studies/, the builder at /studies/{study.slug}/design/)\n"
            f"  Newcomer (consent, baseline, a wave, the end page with its Prolific code): "
            f"{settings.SITE_URL}/s/{study.slug}/\n"
            f"  Participant link: {result.participant_link}  (a returning participant)\n"
        )
