"""The thin Django wrapper of a command-line tool module (see :mod:`analysis.cli.base`)."""

from types import ModuleType

from django.core.management.base import BaseCommand, CommandError

from analysis.cli.base import EXIT_BAD_INPUT, InputError


class CliCommand(BaseCommand):
    """``manage.py <prog>``: the options and ``run`` of ``cli``; bad input exits 2 with one line."""

    cli: ModuleType
    requires_system_checks = []  # these tools work on files alone, without a configured database

    def add_arguments(self, parser):
        self.cli.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            self.cli.run(options, stdout=self.stdout, stderr=self.stderr)
        except InputError as error:
            raise CommandError(str(error), returncode=EXIT_BAD_INPUT) from None
