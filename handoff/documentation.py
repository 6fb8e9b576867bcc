"""What a lead must carry before it changes hands: the required CRM fields."""

from leads.models import Lead

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

    missing = []
    for required in RequiredField.objects.filter(point=point, active=True):
        value = getattr(lead, required.field, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(required.label or REQUIRABLE_FIELDS.get(required.field, required.field))
    return missing
