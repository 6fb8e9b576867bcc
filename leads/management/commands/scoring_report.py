"""Score a lead file that carries its outcome (a Converted column) with the current rules,
and say how well the score predicts conversion. Writes nothing."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.text import slugify

from leads.importing.parsing import row_parse
from leads.importing.presets import LayoutRefused, mapping_for
from leads.importing.reading import FileRefused, table_open
from leads.models import ScoringSettings
from leads.reports import Scored, scoring_report
from leads.scoring import ActivityFacts, LeadFacts
from leads.services import scorer_current

LABEL_ATTRIBUTE = "converted"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = (
        "Score a file with a Converted column using the current rules and print the ROC AUC, "
        "conversion by score band, and precision and recall of MQL at the threshold."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--preset", default=None, help="Force a layout, e.g. x_education.")

    def handle(self, *args: str, **options: str) -> None:
        now = timezone.now()
        scorer = scorer_current(now=now)
        thresholds = ScoringSettings.current()
        results: list[Scored] = []
        skipped = 0
        try:
            with table_open(options["file"]) as table:
                mapping = mapping_for(table.headers, preset_name=options["preset"])
                for record in table.records:
                    row, errors = row_parse(
                        record.cells, number=record.number, mapping=mapping, now=now
                    )
                    label = row.attributes.get(LABEL_ATTRIBUTE) if row else None
                    if row is None or errors or label in (None, ""):
                        skipped += 1
                        continue
                    score = scorer.score(self._facts(row), self._activities(row))
                    results.append(
                        Scored(
                            score=score.total,
                            qualified=score.qualifies(
                                threshold=thresholds.mql_threshold,
                                fit_minimum=thresholds.fit_minimum,
                            ),
                            converted=bool(int(label)),
                        )
                    )
        except (FileRefused, LayoutRefused, OSError) as error:
            raise CommandError(str(error)) from error
        if not results:
            raise CommandError(
                f"No row has a '{LABEL_ATTRIBUTE}' value: this report needs the outcome."
            )
        self._print(scoring_report(results), thresholds, skipped)

    @staticmethod
    def _facts(row) -> LeadFacts:  # noqa: ANN001
        fields = row.fields
        return LeadFacts(
            pk=row.number,
            email=fields.get("email", ""),
            job_title=fields.get("job_title", ""),
            industry=fields.get("industry", ""),
            company_size=fields.get("company_size"),
            country=fields.get("country", ""),
            city=fields.get("city", ""),
            company=fields.get("company", ""),
            campaign=fields.get("campaign", ""),
            do_not_email=fields.get("do_not_email", False),
            do_not_call=fields.get("do_not_call", False),
            # The outcome must never feed the score it is measuring.
            attributes={k: v for k, v in row.attributes.items() if k != LABEL_ATTRIBUTE},
            source_slug=slugify(row.source_name) if row.source_name else "",
        )

    @staticmethod
    def _activities(row) -> list[ActivityFacts]:  # noqa: ANN001
        return [
            ActivityFacts(
                pk=index,
                kind=activity.kind,
                detail=activity.detail,
                quantity=activity.quantity,
                occurred_at=activity.occurred_at,
            )
            for index, activity in enumerate(row.activities)
        ]

    def _print(self, report, thresholds: ScoringSettings, skipped: int) -> None:  # noqa: ANN001
        write = self.stdout.write
        write(f"Leads scored: {report.leads} (skipped {skipped} without an outcome)")
        write(f"Converted: {report.converted} ({_percent(report.base_rate)})")
        auc = "n/a" if report.roc_auc is None else f"{report.roc_auc:.3f}"
        write(f"ROC AUC of the current rules: {auc}")
        write(f"Conversion in the top decile of scores: {_percent(report.top_decile_conversion)}")
        write("")
        write("Conversion by score band:")
        write(f"  {'band':<14} {'leads':>7} {'converted':>10} {'rate':>7}")
        for band in report.bands:
            write(
                f"  {band['band']:<14} {band['leads']:>7} {band['converted']:>10} "
                f"{_percent(band['rate']):>7}"
            )
        write("")
        write(
            f"MQL at threshold {thresholds.mql_threshold} (fit minimum {thresholds.fit_minimum}): "
            f"{report.mqls} leads"
        )
        write(f"  precision: {_percent(report.precision)}  recall: {_percent(report.recall)}")
