from django.core.management.base import BaseCommand, CommandError

from analysis.cli.base import InputError
from analysis.pipeline.enqueue import waves_needing_indices
from analysis.pipeline.indices import compute_wave_indices
from analysis.series.cross_sections import import_cross_sections
from analysis.stats.design_bootstrap import KINDS


class Command(BaseCommand):
    help = ("Import repeated cross-sections (new respondents each period) as a new study: respondent-level "
            "answers (participant, wave, item, value [+ weight]) or a frequency table (--counts: wave, item, "
            "category, count). Waves are the periods (years, YYYY-MM or dates), in time order.")

    def add_arguments(self, parser):
        parser.add_argument("study", metavar="STUDY", help="slug of the new study")
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument("--counts", action="store_true", help="FILE is a frequency table")
        parser.add_argument("--weight", metavar="COL", help="weight column of respondent-level files")
        parser.add_argument("--weight-kind", choices=KINDS, default="sampling")
        parser.add_argument("--scale-min", type=float, metavar="A")
        parser.add_argument("--scale-max", type=float, metavar="B")
        parser.add_argument("--title", default="")
        parser.add_argument("--owner", metavar="USER", help="make this user the study's owner")
        parser.add_argument("--no-compute", action="store_true", help="import only; compute the indices later")

    def handle(self, *args, study, file, counts, weight, weight_kind, scale_min, scale_max, title, owner,
               no_compute, **options):
        try:
            result = import_cross_sections(slug=study, path=file, title=title, counts=counts, weight=weight,
                                           weight_kind=weight_kind, scale_min=scale_min, scale_max=scale_max,
                                           owner=owner)
        except InputError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(f"import_responses: study {study!r}: {result.periods} periods, {result.items} items, "
                          f"{result.respondents} respondents ({result.answers:,.0f} answers with weights)")
        if not no_compute:
            for wave in waves_needing_indices(study_id=result.study.pk):
                compute_wave_indices(study_id=result.study.pk, wave_id=wave.pk)
            self.stderr.write("import_responses: indices computed for every period")
