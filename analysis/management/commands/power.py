from django.core.management.base import BaseCommand, CommandError

from analysis import power_cli


class Command(BaseCommand):
    help = (
        "Power to detect an intervention effect E (in the outcome's own units) by simulating panels, "
        "and the smallest participants per arm for the target power. No database needed."
    )
    requires_system_checks = []  # pure simulation, no database

    def add_arguments(self, parser):
        power_cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            power_cli.run(options, stdout=self.stdout, stderr=self.stderr)
        except power_cli.InputError as error:
            raise CommandError(str(error), returncode=power_cli.EXIT_BAD_INPUT) from None
