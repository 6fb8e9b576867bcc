"""Writes of the feedback loop: the rejection sales gives, and marketing's answer to it."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from feedback.models import Rejection, RejectionReason
from handoff import roles
from handoff.errors import PermissionRefused, TransitionRefused
from leads.models import Lead, Stage
from leads.services import lead_lock, lead_transition

logger = logging.getLogger(__name__)

RECYCLE_NOT_ALLOWED = "Only marketing can recycle a rejected lead to nurture."
RECYCLE_REASON = "recycled to nurture by marketing"
RECYCLE_REFUSED = "Only a rejected lead can be recycled; this one is {stage}."


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


def lead_recycle(*, lead_id: int, actor: AbstractBaseUser) -> Lead:
    """Send a rejected lead back to nurture, where new engagement can make it MQL again.

    Marketing only. The lead row is locked and its stage re-checked under the lock, so two
    clicks, or a click racing another change, move it once; a lead that is no longer in the
    rejected stage is refused with TransitionRefused and nothing changes.
    """
    if not roles.has_role(actor, roles.MARKETING):
        raise PermissionRefused(RECYCLE_NOT_ALLOWED)
    with transaction.atomic():
        lead = lead_lock(lead_id=lead_id)
        if lead.stage != Stage.REJECTED:
            raise TransitionRefused(RECYCLE_REFUSED.format(stage=lead.get_stage_display().lower()))
        lead_transition(lead=lead, transition="recycle", actor=actor, reason=RECYCLE_REASON)
    logger.info("lead recycled by marketing lead_id=%s actor_id=%s", lead.pk, actor.pk)
    return lead
