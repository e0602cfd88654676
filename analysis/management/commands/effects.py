from django.core.management.base import BaseCommand, CommandError

from analysis import effects_cli


class Command(BaseCommand):
    help = (
        "Intervention effects on disagreement indices and individual answers (DiD with cluster "
        "bootstrap, two-way fixed effects, randomization inference, Holm) from a CSV of answers. "
        "No database needed."
    )
    requires_system_checks = []  # works on a CSV alone, without a configured database

    def add_arguments(self, parser):
        effects_cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            effects_cli.run(options, stdout=self.stdout, stderr=self.stderr)
        except effects_cli.InputError as error:
            raise CommandError(str(error), returncode=effects_cli.EXIT_BAD_INPUT) from None
