from analysis.cli import power as power_cli
from analysis.management.cli_command import CliCommand


class Command(CliCommand):
    cli = power_cli
    help = (
        "Power to detect an intervention effect E (in the outcome's own units) by simulating panels, "
        "and the smallest participants per arm for the target power. No database needed."
    )
