from analysis.cli import text_disagreement as text_cli
from analysis.management.cli_command import CliCommand


class Command(CliCommand):
    cli = text_cli
    help = ("Topic-free text disagreement: lexicon negativity of a corpus CSV (date, text[, group]) per "
            "year, month or week, as a period,value series. No database needed.")
