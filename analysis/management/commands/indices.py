from django.core.management.base import BaseCommand, CommandError

from analysis import indices_cli


class Command(BaseCommand):
    help = (
        "Disagreement indices with bootstrap intervals from a CSV of answers "
        "(participant, wave, item, value + grouping columns). No database needed."
    )
    requires_system_checks = []  # works on a CSV alone, without a configured database

    def add_arguments(self, parser):
        indices_cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            indices_cli.run(options, stdout=self.stdout, stderr=self.stderr)
        except indices_cli.InputError as error:
            raise CommandError(str(error), returncode=indices_cli.EXIT_BAD_INPUT) from None
