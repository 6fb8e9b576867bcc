"""Admin for sources, leads and their imports.

The scoring rules and thresholds, with their preview, are in leads.admin_scoring.

Leads are read-only here: stages move through the handoff workflow and scores are computed,
and contact data comes in through imports, forms and the API. What the admin does write goes
through the lead services: the import, rescoring and qualification, API tokens.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from import_export.results import Result

# The scoring protocol's admin lives in its own module; importing it registers it.
from leads import admin_scoring  # noqa: F401
from leads.importing import leads_score_and_qualify
from leads.models import (
    Activity,
    ImportJob,
    ImportMapping,
    Lead,
    LeadEvent,
    Source,
    SourceToken,
)
from leads.resources import HubSpotLeadResource, LeadCSV, LeadResource, SalesforceLeadResource
from leads.services import source_token_create

IMPORT_SUMMARY = (
    "Imported: {created} new leads, {updated} completed, {unchanged} unchanged, {merged} "
    "duplicate rows merged; {mqls} MQLs, {handoffs} handed off."
)
PREVIEW_SUMMARY = (
    "Preview (nothing saved yet): {created} new leads, {updated} to complete, {unchanged} "
    "unchanged, {merged} duplicate rows merged; {mqls} expected to become MQL."
)


class SourceTokenInline(admin.TabularInline):
    model = SourceToken
    extra = 0
    fields = ["label", "active", "created_at", "last_used_at"]
    readonly_fields = ["label", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A token is created by the action on the source list, which shows it once.
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active"]
    list_filter = ["active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SourceTokenInline]
    actions = ["create_api_token"]

    @admin.action(description="Create an API token for the selected sources")
    def create_api_token(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            token = source_token_create(source=source, label=f"admin: {request.user}")
            self.message_user(
                request,
                f"Token for {source.name} (shown once, copy it now): {token}",
                messages.WARNING,
            )


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActivityInline(ReadOnlyInline):
    model = Activity
    fields = readonly_fields = ["occurred_at", "kind", "detail", "quantity"]
    ordering = ["-occurred_at", "-id"]


class LeadEventInline(ReadOnlyInline):
    model = LeadEvent
    fields = readonly_fields = ["created_at", "from_stage", "to_stage", "actor", "reason"]


class CanonicalEmailFilter(admin.SimpleListFilter):
    """Leads that shared an email with an older lead when canonical emails came in: they keep
    their email but not the canonical one, and imports match the older lead instead."""

    title = "duplicate email"
    parameter_name = "duplicate_email"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Shares its email with an older lead")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        if self.value() == "yes":
            return queryset.filter(canonical_email="").exclude(email="")
        return queryset


@admin.register(Lead)
class LeadAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [LeadResource, SalesforceLeadResource, HubSpotLeadResource]
    import_formats = [LeadCSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]

    list_display = ["display_name", "company", "source", "stage", "score", "created_at"]
    list_filter = [
        "stage", "source", "do_not_email", "do_not_call", "created_at", CanonicalEmailFilter,
    ]  # fmt: skip
    search_fields = [
        "first_name", "last_name", "email", "canonical_email", "company", "external_id",
    ]  # fmt: skip
    list_select_related = ["source"]
    date_hierarchy = "created_at"
    actions = ["rescore_and_qualify"]
    inlines = [ActivityInline, LeadEventInline]
    fieldsets = [
        (None, {"fields": ["external_id", "first_name", "last_name", "email", "phone"]}),
        (
            "Fit",
            {
                "fields": [
                    "company",
                    "job_title",
                    "industry",
                    "company_size",
                    "country",
                    "city",
                    "attributes_display",
                ]
            },
        ),  # fmt: skip
        ("Origin", {"fields": ["source", "campaign", "do_not_email", "do_not_call"]}),
        ("Stage", {"fields": ["stage", "mql_count", "mql_at"]}),
        (
            "Score",
            {
                "fields": [
                    "score",
                    "fit_score",
                    "engagement_score",
                    "disqualified_by",
                    "scored_at",
                    "score_breakdown_display",
                ]
            },
        ),  # fmt: skip
        ("Handoff packet", {"fields": ["pain", "context", "ready_for_demo"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = ["attributes_display", "score_breakdown_display"]

    # Leads are viewed here, not edited: see the module docstring.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_export_resource_classes(self, request: HttpRequest) -> list:
        # The export writes Handoff's own layout, whichever layout an import read.
        return [LeadResource]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("leads.add_lead")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("leads.view_lead")

    def has_rescore_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("leads.change_lead")

    @admin.display(description="Name", ordering="last_name")
    def display_name(self, lead: Lead) -> str:
        return lead.display_name

    @admin.display(description="Attributes from imports")
    def attributes_display(self, lead: Lead) -> str:
        if not lead.attributes:
            return "-"
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td></tr>",
                sorted((key, str(value)) for key, value in lead.attributes.items()),
            ),
        )

    @admin.display(description="Where the score came from")
    def score_breakdown_display(self, lead: Lead) -> str:
        if not lead.score_breakdown:
            return "No rule matched."
        rows = []
        for entry in lead.score_breakdown:
            if entry.get("category") == "fit":
                why = f"{entry.get('field')} = {entry.get('value')}"
            else:
                activities = entry.get("activities", [])
                count = sum(item.get("quantity", 1) for item in activities)
                why = f"{count} activit{'y' if count == 1 else 'ies'}"
                if entry.get("capped"):
                    why += ", capped"
            if entry.get("disqualifier"):
                why += " (disqualifies)"
            rows.append((entry.get("rule", ""), entry.get("category", ""), entry["points"], why))
        return format_html(
            "<table><tr><th>Rule</th><th>Kind</th><th>Points</th><th>Why</th></tr>{}"
            "<tr><th colspan='2'>Total</th><th>{}</th><td></td></tr></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
            lead.score,
        )

    @admin.action(description="Rescore and qualify the selected leads", permissions=["rescore"])
    def rescore_and_qualify(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        lead_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        mqls, handoffs = leads_score_and_qualify(lead_ids=lead_ids, actor=request.user)
        self.message_user(
            request,
            f"Rescored {len(lead_ids)} leads: {mqls} became MQL, {handoffs} were handed off.",
        )

    # Import pages: say what the import service did, beyond django-import-export's counts.

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        response = super().import_action(request, **kwargs)
        result = getattr(response, "context_data", {}).get("result")
        if result is not None and not (result.has_errors() or result.has_validation_errors()):
            self._summarise(request, result, template=PREVIEW_SUMMARY)
        return response

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        self._summarise(request, result, template=IMPORT_SUMMARY)

    def _summarise(self, request: HttpRequest, result: Result, *, template: str) -> None:
        totals = result.totals
        report = getattr(result, "import_report", None)
        # The totals count rows (see LeadResource.import_data_inner); the message counts
        # leads, and says how many rows were duplicates.
        self.message_user(
            request,
            template.format(
                created=totals["new"],
                updated=totals["update"],
                unchanged=report.unchanged if report else totals["skip"],
                merged=report.merged if report else 0,
                mqls=(report.mqls_created or report.mqls_expected) if report else 0,
                handoffs=report.handoffs_created if report else 0,
            ),
        )


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    """A source's saved mapping: chosen on the upload page by choosing the source."""

    list_display = ["source", "preset", "date_format", "updated_at", "updated_by"]
    search_fields = ["source__name"]
    autocomplete_fields = ["source"]
    readonly_fields = ["updated_at", "updated_by"]

    def save_model(self, request: HttpRequest, obj: ImportMapping, form: Any, change: bool) -> None:
        # The model's clean() has checked every target and the date format.
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Uploads and their outcome, for reading: jobs change only through the upload page."""

    list_display = [
        "pk", "file_name", "status", "layout", "rows_total", "errors_total", "created_by",
        "created_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "layout", "created_at"]
    search_fields = ["file_name", "file_sha256"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
