"""Every write to handoffs, by subject. Import from here: the modules are an internal split."""

from handoff.services.assignment import (
    REASSIGN_NOBODY,
    REASSIGN_NOT_ALLOWED,
    REASSIGN_REASON_REQUIRED,
    REASSIGN_SAME_REP,
    handoff_assign,
    handoff_reassign,
)
from handoff.services.batch import (
    QUALIFY_BATCH_SIZE,
    leads_assign_locked,
    leads_assign_waiting,
    leads_qualify_batch,
    leads_qualify_in_batches,
)
from handoff.services.common import (
    ALREADY_CHANGED,
    NOT_YOURS,
    actor_may_act,
    company_days_off,
    sla_policy_for,
)
from handoff.services.escalation import handoff_sla_check, handoffs_sla_sweep
from handoff.services.work import (
    BANT_FIELDS,
    NOT_AN_ACCOUNT_EXECUTIVE,
    NOTE_REQUIRED,
    OPPORTUNITY_MISSING,
    REASON_REQUIRED,
    REASON_UNKNOWN,
    handoff_accept,
    handoff_log_attempt,
    handoff_qualify,
    handoff_reject,
    lead_bant_update,
    lead_open_opportunity,
)

__all__ = [
    "QUALIFY_BATCH_SIZE",
    "leads_assign_locked",
    "leads_qualify_batch",
    "leads_qualify_in_batches",
    "ALREADY_CHANGED",
    "BANT_FIELDS",
    "NOTE_REQUIRED",
    "NOT_AN_ACCOUNT_EXECUTIVE",
    "NOT_YOURS",
    "OPPORTUNITY_MISSING",
    "REASON_REQUIRED",
    "REASON_UNKNOWN",
    "REASSIGN_NOBODY",
    "REASSIGN_NOT_ALLOWED",
    "REASSIGN_REASON_REQUIRED",
    "REASSIGN_SAME_REP",
    "actor_may_act",
    "company_days_off",
    "handoff_accept",
    "handoff_assign",
    "handoff_sla_check",
    "handoff_log_attempt",
    "handoff_qualify",
    "handoff_reassign",
    "handoff_reject",
    "handoffs_sla_sweep",
    "lead_bant_update",
    "lead_open_opportunity",
    "leads_assign_waiting",
    "sla_policy_for",
]
