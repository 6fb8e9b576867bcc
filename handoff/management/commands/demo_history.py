"""Give a fresh demo some history, so that every page has something to show: a few leads
rejected with their reasons, a few answered, and two handoffs whose deadline passed while
nobody looked, which beat then escalates. Runs once: it does nothing when rejections exist.

Everything goes through the services the pages use, except the two missed deadlines, which
are moved into the past as if those leads had been assigned five days ago: far enough back to hold
a working day in every rep's week.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from feedback.models import Rejection
from handoff.models import Handoff
from handoff.services import handoff_accept, handoff_log_attempt, handoff_reject
from handoff.services.common import company_days_off

REJECTIONS = [
    ("outside-icp", "A two-person agency; we sell to teams of fifty and more."),
    ("not-now", "Interested, but the budget opens next quarter. Asked us to call back in March."),
    ("bad-contact-data", "The phone number belongs to someone else and the email bounced."),
]


class Command(BaseCommand):
    help = "Add a little history to a fresh demo (rejections, answers, missed deadlines). Once."

    def handle(self, *args: str, **options: str) -> None:
        if Rejection.objects.exists():
            self.stdout.write("Demo history already there; nothing to do.")
            return
        open_handoffs = list(Handoff.objects.open().select_related("rep__user").order_by("pk"))
        if len(open_handoffs) < 8:
            self.stdout.write("Too few open handoffs for a demo history; import leads first.")
            return
        rejected, answered, missed = open_handoffs[:3], open_handoffs[3:6], open_handoffs[6:8]
        for handoff, (reason, note) in zip(rejected, REJECTIONS, strict=True):
            handoff_reject(
                handoff_id=handoff.pk, actor=handoff.rep.user, reason_code=reason, note=note
            )
        for index, handoff in enumerate(answered):
            if index == 0:
                handoff_accept(handoff_id=handoff.pk, actor=handoff.rep.user)
            handoff_log_attempt(
                handoff_id=handoff.pk,
                actor=handoff.rep.user,
                channel="call" if index % 2 else "email",
                outcome="left_message",
            )
        five_days_ago = timezone.now() - timedelta(days=5)
        days_off = company_days_off()
        with transaction.atomic():
            for handoff in missed:
                calendar = handoff.rep.calendar(days_off=days_off)
                due_at = calendar.add(five_days_ago, timedelta(hours=handoff.first_response_hours))
                Handoff.objects.filter(pk=handoff.pk).update(
                    assigned_at=five_days_ago, due_at=due_at, next_check_at=due_at
                )
        self.stdout.write(
            f"Demo history: {len(rejected)} rejections, {len(answered)} answered, "
            f"{len(missed)} missed deadlines for beat to escalate."
        )
