from django.contrib.auth.models import AbstractBaseUser

from feedback.models import Rejection, RejectionReason


def rejection_record(
    *,
    handoff,  # noqa: ANN001 - handoff.models.Handoff; imported lazily to avoid a cycle
    lead,  # noqa: ANN001
    reason: RejectionReason,
    note: str,
    actor: AbstractBaseUser | None,
) -> Rejection:
    """Write the rejection marketing will review. Called by handoff_reject inside its
    transaction, after the reason and note were checked."""
    return Rejection.objects.create(
        handoff=handoff, lead=lead, reason=reason, note=note, rejected_by=actor
    )
