from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from feedback.models import RejectionReason
from handoff import roles
from handoff.models import AttemptChannel, AttemptOutcome
from handoff.protocol import REVIEW_DECISIONS_REQUIRED
from handoff.services import REASSIGN_REASON_REQUIRED
from handoff.services.work import NOTE_MAX_LENGTH
from leads.models import BANT_PARTS, Lead
from reps.models import Rep

NOTE_REQUIRED = "Add a note: marketing needs to know why."
BANT_HINTS = {
    "budget": "e.g. 20k a year approved for Q3",
    "authority": "e.g. VP Sales signs; the CFO approves",
    "need": "e.g. reps lose a day a week to manual quotes",
    "timeline": "e.g. live before the January kick-off",
}


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
        max_length=NOTE_MAX_LENGTH,
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
    note = forms.CharField(
        required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "attempt_%s")
        super().__init__(*args, **kwargs)


class BantForm(forms.ModelForm):
    """What the rep learned: budget, authority, need, timeline, and whether a demo is next.

    Saved through handoff.services.lead_bant_update; the form only checks the shape.
    """

    class Meta:
        model = Lead
        fields = [
            *(f"{part}_{suffix}" for part in BANT_PARTS for suffix in ("status", "note")),
            "ready_for_demo",
        ]
        labels = {
            **{f"{part}_status": part.capitalize() for part in BANT_PARTS},
            **{f"{part}_note": f"{part.capitalize()}: what you heard" for part in BANT_PARTS},
            "ready_for_demo": "Ready for a demo or proposal",
        }
        widgets = {
            f"{part}_note": forms.TextInput(attrs={"placeholder": BANT_HINTS[part]})
            for part in BANT_PARTS
        }

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "bant_%s")
        super().__init__(*args, **kwargs)


class ContextForm(forms.ModelForm):
    """The pain the lead wants solved and the context the next person needs."""

    class Meta:
        model = Lead
        fields = ["pain", "context"]
        widgets = {
            "pain": forms.Textarea(attrs={"rows": 3}),
            "context": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "pain": "In the lead's words: what hurts, and what it costs them.",
            "context": "Who else is involved, what they use today, anything the AE should know.",
        }

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "context_%s")
        super().__init__(*args, **kwargs)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: AbstractBaseUser) -> str:
        return obj.get_full_name() or obj.get_username()


class OpportunityForm(forms.Form):
    account_executive = UserChoiceField(
        queryset=get_user_model().objects.none(),
        empty_label="Choose an account executive…",
        error_messages={"required": "Choose an account executive."},
    )

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "opportunity_%s")
        super().__init__(*args, **kwargs)
        self.fields["account_executive"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name=roles.ACCOUNT_EXECUTIVE)
            .order_by("first_name", "last_name", "username")
        )


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Rep) -> str:
        return str(obj)


class ReassignForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the handoff's history, and shown to both reps.",
        error_messages={"required": REASSIGN_REASON_REQUIRED},
    )
    to_rep = RepChoiceField(
        queryset=Rep.objects.none(),
        required=False,
        label="New rep",
        empty_label="Let routing choose",
    )

    def __init__(self, *args, reps: QuerySet[Rep] | None = None, **kwargs) -> None:  # noqa: ANN002,ANN003
        kwargs.setdefault("auto_id", "reassign_%s")
        super().__init__(*args, **kwargs)
        if reps is not None:
            self.fields["to_rep"].queryset = reps

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(REASSIGN_REASON_REQUIRED)
        return reason


class QuarterlyReviewForm(forms.Form):
    decisions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=(
            "What marketing, sales and RevOps agreed to change (criteria, SLAs, reasons, required "
            "fields) and why. The figures are saved with the review."
        ),
        error_messages={"required": REVIEW_DECISIONS_REQUIRED},
    )

    def clean_decisions(self) -> str:
        decisions = self.cleaned_data["decisions"].strip()
        if not decisions:
            raise forms.ValidationError(REVIEW_DECISIONS_REQUIRED)
        return decisions
