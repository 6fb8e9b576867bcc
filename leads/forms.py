"""Shapes of inbound payloads. They check types and formats only; rules live in services."""

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from handoff.instants import OUT_OF_WINDOW, out_of_window
from leads.models import COMPANY_SIZE_MAX, ActivityKind

# How far ahead of this server's clock a sender's timestamp may be.
FUTURE_TOLERANCE = timedelta(minutes=5)


class InboundLeadForm(forms.Form):
    email = forms.EmailField(required=False)
    external_id = forms.CharField(required=False, max_length=100)
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    phone = forms.CharField(required=False, max_length=50)
    company = forms.CharField(required=False, max_length=200)
    job_title = forms.CharField(required=False, max_length=200)
    industry = forms.CharField(required=False, max_length=100)
    company_size = forms.IntegerField(required=False, min_value=1, max_value=COMPANY_SIZE_MAX)
    country = forms.CharField(required=False, max_length=100)
    city = forms.CharField(required=False, max_length=100)
    campaign = forms.CharField(required=False, max_length=200)

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("external_id"):
            raise forms.ValidationError("Give the lead's email or external_id.")
        return cleaned


class InboundActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices)
    detail = forms.CharField(required=False, max_length=300)
    quantity = forms.IntegerField(required=False, min_value=1, max_value=10000)
    occurred_at = forms.DateTimeField(required=False)

    def clean_occurred_at(self) -> datetime | None:
        occurred_at = self.cleaned_data.get("occurred_at")
        # An instant near year 1 overflows when it is stored in UTC.
        if occurred_at is not None and out_of_window(occurred_at):
            raise forms.ValidationError(OUT_OF_WINDOW.format(value=occurred_at.isoformat()))
        now = timezone.now()
        # A sender's clock may run a little fast; an activity from later than that would
        # score at full weight, undecayed, for as long as it stays "in the future".
        if occurred_at is not None and occurred_at > now + FUTURE_TOLERANCE:
            raise forms.ValidationError(
                f"An activity cannot happen in the future: {occurred_at.isoformat()} is after "
                f"{now.replace(microsecond=0).isoformat()}."
            )
        return occurred_at
