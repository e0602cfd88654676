from analysis.cli import indices as indices_cli
from analysis.management.cli_command import CliCommand


class Command(CliCommand):
    cli = indices_cli
    help = (
        "Disagreement indices with bootstrap intervals from a CSV of answers "
        "(participant, wave, item, value + grouping columns). No database needed."
    )
