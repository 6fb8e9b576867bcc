from django import forms

from feedback.models import RejectionReason
from handoff.models import AttemptChannel, AttemptOutcome

NOTE_REQUIRED = "Add a note: marketing needs to know why."


class ReasonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: RejectionReason) -> str:
        # The rep sees what the reason will do to the lead before choosing it.
        return f"{obj.label} ({obj.get_outcome_display().lower()})"


class RejectForm(forms.Form):
    reason = ReasonChoiceField(
        queryset=RejectionReason.objects.filter(active=True),
        to_field_name="code",
        empty_label="Choose a reason…",
        error_messages={"required": "Choose a rejection reason."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What marketing should know: who this lead is and why it is not for sales.",
        error_messages={"required": NOTE_REQUIRED},
    )

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        # Field ids are prefixed so that this form and the attempt form can share a page.
        kwargs.setdefault("auto_id", "reject_%s")
        super().__init__(*args, **kwargs)

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(NOTE_REQUIRED)
        return note


class AttemptForm(forms.Form):
    channel = forms.ChoiceField(choices=AttemptChannel.choices)
    outcome = forms.ChoiceField(choices=AttemptOutcome.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "attempt_%s")
        super().__init__(*args, **kwargs)
