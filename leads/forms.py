"""Shapes of inbound payloads. They check types and formats only; rules live in services."""

from django import forms

from leads.models import ActivityKind


class InboundLeadForm(forms.Form):
    email = forms.EmailField(required=False)
    external_id = forms.CharField(required=False, max_length=100)
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    phone = forms.CharField(required=False, max_length=50)
    company = forms.CharField(required=False, max_length=200)
    job_title = forms.CharField(required=False, max_length=200)
    industry = forms.CharField(required=False, max_length=100)
    company_size = forms.IntegerField(required=False, min_value=1)
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
