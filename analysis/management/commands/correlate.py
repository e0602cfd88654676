from analysis.cli import correlate as correlate_cli
from analysis.management.cli_command import CliCommand


class Command(CliCommand):
    cli = correlate_cli
    help = ("Correlate two period,value series (Spearman, Pearson or Kendall) with lags, on levels and "
            "first differences, with moving-block bootstrap intervals. No database needed.")
