"""What a lead must carry before it changes hands: the required CRM fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from leads.models import Lead

if TYPE_CHECKING:
    from handoff.models import RequiredField

# Lead fields an admin may require at a handoff point, with the label a rep sees.
REQUIRABLE_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "job_title": "Job title",
    "industry": "Industry",
    "company_size": "Company size",
    "country": "Country",
    "pain": "Pain",
    "context": "Context",
    "budget_note": "Budget note",
    "authority_note": "Authority note",
    "need_note": "Need note",
    "timeline_note": "Timeline note",
}


def missing_required_fields(*, lead: Lead, point: str) -> list[str]:
    """Labels of the fields required at `point` that the lead leaves empty, in admin order."""
    from handoff.models import RequiredField

    return required_fields_missing(
        lead=lead, required=RequiredField.objects.filter(point=point, active=True)
    )


def required_fields_missing(*, lead: Lead, required: Iterable[RequiredField]) -> list[str]:
    """Labels of the `required` fields (active, for one point, in admin order) that the lead
    leaves empty. Pure, for callers that read the required fields once for many leads."""
    missing = []
    for field in required:
        value = getattr(lead, field.field, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(field.label or REQUIRABLE_FIELDS.get(field.field, field.field))
    return missing
