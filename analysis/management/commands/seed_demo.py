from django.conf import settings
from django.core.management.base import BaseCommand

from analysis.demo import seed_demo_study


class Command(BaseCommand):
    help = "Build the demo study from the panel simulation (idempotent) and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--participants", type=int, default=600, help="simulated participants (default 600)")
        parser.add_argument("--seed", type=int, default=2026, help="simulation seed (default 2026)")
        parser.add_argument("--reset", action="store_true", help="delete and rebuild the demo study")

    def handle(self, *args, participants, seed, reset, **options):
        result = seed_demo_study(participants=participants, seed=seed, reset=reset)
        study = result.study
        state = "built" if result.created else "already there, unchanged"
        self.stderr.write(
            f"Demo study '{study.slug}' {state}: {study.participants.count()} participants, "
            f"{study.waves.count()} waves, {study.items.count()} items."
        )
        self.stdout.write(
            "\n"
            f"  Researcher login: {settings.SITE_URL}/accounts/login/  user {result.username}  "
            f"password {result.password}  (studies at /studies/, study design at /admin/)\n"
            f"  Newcomer (consent, baseline, a wave, the end page with its Prolific code): "
            f"{settings.SITE_URL}/s/{study.slug}/\n"
            f"  Participant link: {result.participant_link}  (a returning participant)\n"
        )
