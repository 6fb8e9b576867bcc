"""Admin for the scoring protocol: rules and thresholds, with a preview before saving.

A change to a rule or to the thresholds decides how many MQLs the reps get each week. The
change forms therefore carry a "Preview" button next to Save: it validates the form, scores
the last 90 days' leads with the edited values held in memory, and shows the MQL count and
weekly volume against the reps' capacity. Nothing is written; saving stays its own click.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse

from handoff import roles
from leads.models import ScoringRule, ScoringSettings
from leads.selectors import PREVIEW_DAYS, ScoringPreview, scoring_preview

# The name of the preview submit button, as the template posts it.
PREVIEW_BUTTON = "_preview"
RULES_NOT_APPLIED = (
    "Scores are not recomputed when a rule changes. Select leads and run 'Rescore and qualify', "
    "or wait for the nightly rescoring."
)


class ScoringPreviewMixin:
    """Adds the preview to a model admin's change and add forms.

    The preview is for RevOps admins (and superusers) who may also save the form: it shows
    how the protocol would move the MQL volume, which is theirs to decide.
    """

    change_form_template = "admin/leads/scoring_change_form.html"

    def scoring_preview_for(self, candidate: Model) -> ScoringPreview:
        raise NotImplementedError

    def has_preview_permission(self, request: HttpRequest, obj: Model | None) -> bool:
        allowed = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        return allowed and roles.has_role(request.user, roles.REVOPS)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and PREVIEW_BUTTON in request.POST:
            return self._preview_view(request, object_id, form_url)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> HttpResponse:
        context.setdefault("preview", None)
        context["can_preview"] = self.has_preview_permission(request, obj)
        context["preview_days"] = PREVIEW_DAYS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _preview_view(self, request: HttpRequest, object_id: str | None, form_url: str) -> Any:
        add = object_id is None
        obj = None if add else self.get_object(request, unquote(object_id))
        if not add and obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_preview_permission(request, obj):
            raise PermissionDenied

        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(
            request, obj, change=not add, fields=flatten_fieldsets(fieldsets)
        )
        form: ModelForm = form_class(request.POST, request.FILES, instance=obj)
        # A valid form has put the edited values on its instance (the model's clean() has
        # checked them), which is only held in memory: the preview never calls save().
        preview = self.scoring_preview_for(form.instance) if form.is_valid() else None

        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        title = "Add %s" if add else "Change %s"
        context = {
            **self.admin_site.each_context(request),
            "title": title % self.opts.verbose_name,
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "preview": preview,
        }
        return self.render_change_form(
            request, context, add=add, change=not add, obj=obj, form_url=form_url
        )


@admin.register(ScoringRule)
class ScoringRuleAdmin(ScoringPreviewMixin, admin.ModelAdmin):
    list_display = [
        "name", "category", "criterion", "points", "disqualifier", "active", "position",
    ]  # fmt: skip
    list_editable = ["points", "active"]
    list_filter = ["category", "active", "disqualifier"]
    search_fields = ["name", "field", "value"]
    fieldsets = [
        (None, {"fields": ["name", "category", "points", "disqualifier", "active", "position"]}),
        ("Fit rule: a lead field", {"fields": ["field", "operator", "value"]}),
        (
            "Behaviour rule: activities",
            {
                "fields": [
                    "activity_kind",
                    "detail_contains",
                    "half_life_days",
                    "window_days",
                    "cap",
                ]
            },
        ),
    ]

    @admin.display(description="Criterion")
    def criterion(self, rule: ScoringRule) -> str:
        if rule.category == "fit":
            return f"{rule.field} {rule.get_operator_display()} {rule.value}"
        detail = f" containing '{rule.detail_contains}'" if rule.detail_contains else ""
        return f"{rule.get_activity_kind_display()}{detail}"

    def scoring_preview_for(self, candidate: ScoringRule) -> ScoringPreview:
        # The saved rules with this one swapped in (or added), in the order scoring uses.
        others = (
            ScoringRule.objects.exclude(pk=candidate.pk) if candidate.pk else ScoringRule.objects
        )
        rules = sorted(
            [*others.filter(active=True), candidate],
            key=lambda rule: (rule.position, rule.pk is None, rule.pk or 0),
        )
        saved = ScoringSettings.current()
        return scoring_preview(
            rules=rules, threshold=saved.mql_threshold, fit_minimum=saved.fit_minimum
        )

    def save_model(self, request: HttpRequest, obj: ScoringRule, form: Any, change: bool) -> None:
        # The model's clean() has checked the rule. Saving it deliberately rescores nothing:
        # a rule change reaches leads through an explicit rescore or the nightly pass.
        super().save_model(request, obj, form, change)
        self.message_user(request, RULES_NOT_APPLIED, messages.INFO)


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(ScoringPreviewMixin, admin.ModelAdmin):
    list_display = ["__str__", "mql_threshold", "fit_minimum", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row holds the thresholds; ScoringSettings.current() creates it.
        return not ScoringSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def scoring_preview_for(self, candidate: ScoringSettings) -> ScoringPreview:
        return scoring_preview(
            rules=ScoringRule.objects.filter(active=True),
            threshold=candidate.mql_threshold,
            fit_minimum=candidate.fit_minimum,
        )

    def save_model(
        self, request: HttpRequest, obj: ScoringSettings, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        self.message_user(request, RULES_NOT_APPLIED, messages.INFO)
