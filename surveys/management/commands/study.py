"""`manage.py study export|validate|import|schema`: a study's design as a file (docs/building-a-study.md)."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from common import access
from surveys.models import Study
from surveys.spec import io
from surveys.spec.schema import build_schema
from surveys.spec.sections import parse_datetime
from surveys.spec.service import SpecError, apply_spec, export_spec
from surveys.spec.validate import validate_spec

#: Exit status of a file that is not valid, or a change that is refused.
EXIT_INVALID = 2


def _format_of(path: str | None, given: str | None) -> str:
    if given:
        return given
    return "json" if path and path.lower().endswith(".json") else "yaml"


class Command(BaseCommand):
    help = "Export, validate or import a study's design as a YAML or JSON specification."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        export = sub.add_parser("export", help="write a study's design to stdout or --output")
        export.add_argument("slug")
        export.add_argument("--output", "-o", help="file to write (default: stdout)")
        export.add_argument("--format", choices=io.FORMATS, help="yaml (default) or json; default from --output")
        validate = sub.add_parser("validate", help="list every problem of a spec file (exit 2 if any)")
        validate.add_argument("file")
        imp = sub.add_parser("import", help="create a study from a spec, or update it showing the diff")
        imp.add_argument("file")
        imp.add_argument("--slug", help="import under this slug instead of the file's")
        imp.add_argument("--owner", help="username who becomes an owner (and whose change it is)")
        imp.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        imp.add_argument("--start", help="date that wave offsets (opens_after_days) count from")
        schema = sub.add_parser("schema", help="write the JSON Schema of the format")
        schema.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    # --- actions ---

    def _export(self, *, slug, output=None, format=None, **_):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f'no study with slug "{slug}"', returncode=EXIT_INVALID)
        self._write(io.dump(export_spec(study), _format_of(output, format)), output)
        if output:
            self.stderr.write(f"Wrote the design of {slug} to {output}.")

    def _schema(self, *, output=None, **_):
        import json

        self._write(json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n", output)

    def _validate(self, *, file, **_):
        data = self._read(file)
        problems = validate_spec(data)
        if problems:
            for problem in problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(f"{len(problems)} problem(s) in {file}", returncode=EXIT_INVALID)
        self.stderr.write(f"{file}: valid")

    def _import(self, *, file, slug=None, owner=None, dry_run=False, start=None, **_):
        data = self._read(file)
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f'no user "{owner}"', returncode=EXIT_INVALID)
        anchor = None
        if start:
            anchor = parse_datetime(start)
            if anchor is None:
                raise CommandError(f'--start "{start}" is not a date', returncode=EXIT_INVALID)
        target = slug or (data.get("study") or {}).get("slug") if isinstance(data, dict) else None
        existing = Study.objects.filter(slug=target).first() if isinstance(target, str) else None
        if existing is not None and user is not None and not access.may_edit_design(user, existing):
            raise CommandError(access.may_edit_design.refusal(access.member_role(user, existing)),
                               returncode=EXIT_INVALID)
        try:
            result = apply_spec(data=data, user=user, owner=user if existing is None else None, slug=slug,
                                dry_run=dry_run, anchor=anchor)
        except SpecError as error:
            for problem in error.problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(f"{error.title}; nothing was changed.", returncode=EXIT_INVALID) from None
        verb = "would be" if dry_run else "was"
        if result.created:
            self.stderr.write(f"Study {result.study.slug} {verb} created.")
        elif not result.changes:
            self.stderr.write(f"Study {result.study.slug}: no change.")
        else:
            for change in result.changes:
                self.stdout.write(str(change))
            self.stderr.write(f"Study {result.study.slug}: {len(result.changes)} change(s) {verb} applied.")

    # --- files ---

    def _read(self, file: str):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: cannot read: {error}", returncode=EXIT_INVALID) from None
        try:
            return io.load_text(text, name=file)
        except io.SpecSyntaxError as error:
            raise CommandError(str(error), returncode=EXIT_INVALID) from None

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
