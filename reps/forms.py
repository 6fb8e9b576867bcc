from datetime import datetime

from django import forms
from django.utils import timezone

from handoff.instants import OUT_OF_WINDOW, out_of_window
from leads.models import Lead, Source


class RoutingSimulationForm(forms.Form):
    """The lead fields routing reads, for a lead that is never saved."""

    country = forms.CharField(max_length=100, required=False)
    industry = forms.CharField(max_length=100, required=False)
    company_size = forms.IntegerField(min_value=0, required=False)
    source = forms.ModelChoiceField(queryset=Source.objects.order_by("name"), required=False)
    score = forms.IntegerField(initial=0)
    email = forms.EmailField(required=False, help_text="Its company domain finds an account owner.")
    company = forms.CharField(max_length=200, required=False)
    at = forms.DateTimeField(
        required=False,
        label="Route at",
        help_text="Empty means now. Absences and this week's load are read at this time.",
    )

    def clean_at(self) -> datetime | None:
        at = self.cleaned_data.get("at")
        # Routing counts this week's load from the Monday before, which does not exist for
        # an instant at the very start or end of the calendar.
        if at is not None and out_of_window(at):
            raise forms.ValidationError(OUT_OF_WINDOW.format(value=self.data.get("at", "")))
        return at

    def lead(self) -> Lead:
        data = self.cleaned_data
        return Lead(
            country=data["country"],
            industry=data["industry"],
            company_size=data["company_size"],
            source=data["source"],
            score=data["score"],
            email=data["email"],
            company=data["company"],
        )

    def when(self) -> datetime:
        return self.cleaned_data["at"] or timezone.now()


class CapacityReportForm(forms.Form):
    weeks = forms.IntegerField(min_value=1, max_value=26, initial=4, required=False)
