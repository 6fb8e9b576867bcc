from django import forms

from feedback.models import RejectionReason
from handoff.models import AttemptChannel, AttemptOutcome


class RejectForm(forms.Form):
    reason = forms.ModelChoiceField(
        queryset=RejectionReason.objects.filter(active=True),
        to_field_name="code",
        error_messages={"required": "Choose a rejection reason."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Add a note: marketing needs to know why."},
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Add a note: marketing needs to know why.")
        return note


class AttemptForm(forms.Form):
    channel = forms.ChoiceField(choices=AttemptChannel.choices)
    outcome = forms.ChoiceField(choices=AttemptOutcome.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
