"""`manage.py import_leads FILE`: import a lead file all-or-nothing and print the report."""

from argparse import ArgumentParser
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from leads.importing import PRESETS, ImportRefused, ImportReport, leads_import
from leads.importing.jobs import saved_mapping_for
from leads.models import Source


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file. Every row is checked first: a file with any error "
        "imports nothing and lists every error. Leads already in Handoff (same email or "
        "external id) are completed, never overwritten."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Do the whole import, report it, and roll it back.",
        )
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="The file's layout; detected from the headers when left out.",
        )
        parser.add_argument(
            "--date-format",
            action="append",
            default=[],
            dest="date_formats",
            metavar="FORMAT",
            help="A strptime format the file's dates may use besides ISO, e.g. %%d/%%m/%%Y. "
            "Repeat for several.",
        )
        parser.add_argument(
            "--source",
            metavar="SLUG",
            help="The source of rows that name none; its saved import mapping, if any, reads "
            "the file (admin > Import mappings).",
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="The user recorded on the stage changes; the system when left out.",
        )

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]  # type: ignore[assignment]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = None
        if options["actor"]:
            try:
                actor = get_user_model().objects.get(username=options["actor"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named '{options['actor']}'.") from None

        source = None
        if options["source"]:
            source = Source.objects.filter(slug=options["source"]).first()
            if source is None:
                raise CommandError(f"No source with the slug '{options['source']}'.")

        try:
            report = leads_import(
                source=path,
                actor=actor,
                dry_run=bool(options["dry_run"]),
                preset=options["preset"],  # type: ignore[arg-type]
                date_formats=options["date_formats"],  # type: ignore[arg-type]
                custom=saved_mapping_for(source_id=source.pk) if source else None,
                default_source=source,
            )
        except ImportRefused as refused:
            for error in refused.report.errors:
                self.stderr.write(str(error))
            raise CommandError(str(refused)) from None
        self.stdout.write(report_lines(report, name=path.name))


def report_lines(report: ImportReport, *, name: str) -> str:
    delimiter = {"\t": "tab", ",": "comma", ";": "semicolon"}.get(
        report.delimiter, report.delimiter
    )
    lines = [
        f"{'Dry run of' if report.dry_run else 'Imported'} {name} "
        f"(layout: {report.preset}, {report.encoding}, {delimiter}-separated)",
        f"  rows read           {report.rows_read:>7}",
        f"  leads created       {report.created:>7}",
        f"  existing matched    {report.matched:>7}  (completed: {report.updated})",
        f"  duplicate rows      {report.merged:>7}  (merged into an earlier row)",
        f"  blank rows skipped  {report.skipped:>7}",
        f"  activities added    {report.activities_created:>7}",
        f"  sources created     {report.sources_created:>7}",
        f"  MQLs created        {report.mqls_created:>7}",
        f"  handoffs created    {report.handoffs_created:>7}",
        f"  errors              {len(report.errors):>7}",
        f"  seconds             {report.seconds:>7.1f}",
    ]
    if report.ignored_columns:
        lines.append("Columns not imported:")
        lines.extend(f"  {header}: {why}" for header, why in report.ignored_columns)
    if report.dry_run:
        lines.append("Dry run: nothing was saved and nothing was sent.")
    return "\n".join(lines)
