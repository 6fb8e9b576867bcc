"""Pages for reps, managers, marketing and RevOps. Each view checks the role, binds input,
calls one service and renders or redirects; the rules live in the services."""

from handoff.views.common import role_required
from handoff.views.packet import (
    handoff_bant_view,
    handoff_context_view,
    handoff_detail,
    handoff_opportunity_view,
    handoff_qualify_view,
    handoff_reassign_view,
)
from handoff.views.protocol import protocol_markdown, protocol_page, protocol_review_view
from handoff.views.queue import (
    handoff_accept_view,
    handoff_attempt_view,
    handoff_reject_view,
    home,
    queue,
)
from handoff.views.team import manager_dashboard, notification_list

__all__ = [
    "handoff_accept_view",
    "handoff_attempt_view",
    "handoff_bant_view",
    "handoff_context_view",
    "handoff_detail",
    "handoff_opportunity_view",
    "handoff_qualify_view",
    "handoff_reassign_view",
    "handoff_reject_view",
    "home",
    "manager_dashboard",
    "notification_list",
    "protocol_markdown",
    "protocol_page",
    "protocol_review_view",
    "queue",
    "role_required",
]
