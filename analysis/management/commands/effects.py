from analysis.cli import effects as effects_cli
from analysis.management.cli_command import CliCommand


class Command(CliCommand):
    cli = effects_cli
    help = (
        "Intervention effects on disagreement indices and individual answers (DiD with cluster "
        "bootstrap, two-way fixed effects, randomization inference, Holm) from a CSV of answers. "
        "No database needed."
    )
