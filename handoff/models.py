from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.template.defaultfilters import pluralize
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

# The protocol's ceiling: no policy may give a rep more than this to respond.
FIRST_RESPONSE_CEILING_HOURS = 24
DEFAULT_FIRST_RESPONSE_HOURS = 4


class SlaPolicy(models.Model):
    """How fast sales must answer a lead. The first active policy that matches wins."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    source = models.ForeignKey(
        "leads.Source",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Empty matches every source.",
    )
    min_score = models.IntegerField(null=True, blank=True, help_text="Empty matches any score.")
    first_response_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_FIRST_RESPONSE_HOURS,
        validators=[
            MinValueValidator(1),
            MaxValueValidator(
                FIRST_RESPONSE_CEILING_HOURS,
                message=(
                    "The first-response target cannot exceed the protocol's ceiling of "
                    f"{FIRST_RESPONSE_CEILING_HOURS} business hours."
                ),
            ),
        ],
        help_text="Business hours of the rep's calendar.",
    )
    warning_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MaxValueValidator(99)],
        help_text="Warn the rep when this share of the budget is used; 0 turns warnings off.",
    )

    # The escalation chain: each level's delay, in business hours after the deadline. Empty
    # turns a level off. Each level happens once per handoff.
    remind_rep_after_hours = models.PositiveSmallIntegerField(null=True, blank=True, default=0)
    alert_manager_after_hours = models.PositiveSmallIntegerField(null=True, blank=True, default=0)
    reassign_after_hours = models.PositiveSmallIntegerField(null=True, blank=True, default=4)
    return_after_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=8,
        help_text="Give the lead back to marketing with the reason 'no response'.",
    )

    # Follow-up cadence after the first response.
    cadence_attempts = models.PositiveSmallIntegerField(
        default=3, help_text="Attempts the rep must make; 0 turns the cadence off."
    )
    cadence_business_days = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1)]
    )
    cadence_min_spacing_hours = models.PositiveSmallIntegerField(
        default=4, help_text="Attempts closer together than this count as one."
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        hours = self.first_response_hours
        return f"{self.name}: {hours} business hour{pluralize(hours)}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        chain = [
            (name, getattr(self, name))
            for name in (
                "remind_rep_after_hours",
                "alert_manager_after_hours",
                "reassign_after_hours",
                "return_after_hours",
            )
            if getattr(self, name) is not None
        ]
        for (_, earlier_hours), (later, later_hours) in zip(chain, chain[1:], strict=False):
            if later_hours < earlier_hours:
                raise ValidationError(
                    {
                        later: f"Policy '{self.name}': this level ({later_hours} h) cannot come "
                        f"before the one above it ({earlier_hours} h)."
                    }
                )


class HandoffState(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    ACCEPTED = "accepted", "Accepted"
    QUALIFIED = "qualified", "Qualified (SQL)"
    REJECTED = "rejected", "Rejected"
    REASSIGNED = "reassigned", "Reassigned"
    RETURNED = "returned", "Returned to marketing"


OPEN_HANDOFF_STATES = (HandoffState.ASSIGNED, HandoffState.ACCEPTED)


class HandoffQuerySet(models.QuerySet):
    def open(self) -> "HandoffQuerySet":
        return self.filter(state__in=OPEN_HANDOFF_STATES)

    def awaiting_first_response(self) -> "HandoffQuerySet":
        return self.open().filter(first_response_at__isnull=True)


class Handoff(ConcurrentTransitionMixin, models.Model):
    """One lead given to one rep, with a first-response deadline on the rep's calendar."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="handoffs")
    rep = models.ForeignKey("reps.Rep", on_delete=models.PROTECT, related_name="handoffs")
    state = FSMField(choices=HandoffState.choices, default=HandoffState.ASSIGNED, protected=True)
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    first_response_hours = models.PositiveSmallIntegerField()
    assigned_at = models.DateTimeField()
    due_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next"
    )
    # When the SLA engine next has something to check on this handoff (a warning, a deadline,
    # an escalation level, the end of the cadence). Empty once nothing is left to do.
    next_check_at = models.DateTimeField(null=True, blank=True)

    objects = HandoffQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # A lead has at most one open handoff: one owner, one clock.
            models.UniqueConstraint(
                fields=["lead"],
                condition=models.Q(state__in=OPEN_HANDOFF_STATES),
                name="one_open_handoff_per_lead",
            ),
        ]
        indexes = [
            # The SLA sweep: open handoffs with no first response whose deadline has passed.
            models.Index(
                fields=["due_at"],
                condition=models.Q(state__in=OPEN_HANDOFF_STATES, first_response_at__isnull=True),
                name="handoff_awaiting_response_due",
            ),
            # The work queue: a rep's open handoffs by deadline.
            models.Index(
                fields=["rep", "due_at", "id"],
                condition=models.Q(state__in=OPEN_HANDOFF_STATES),
                name="handoff_open_queue",
            ),
            models.Index(fields=["rep", "assigned_at"], name="handoff_rep_assigned"),
            # The SLA sweep: open handoffs whose next check has come.
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(state__in=OPEN_HANDOFF_STATES, next_check_at__isnull=False),
                name="handoff_sla_next_check",
            ),
        ]

    def __str__(self) -> str:
        return f"Handoff {self.pk} of lead {self.lead_id} to {self.rep_id}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_HANDOFF_STATES

    @transition(field=state, source=HandoffState.ASSIGNED, target=HandoffState.ACCEPTED)
    def accept(self) -> None:
        pass

    # Sales must have accepted the lead before it can call it SQL.
    @transition(field=state, source=HandoffState.ACCEPTED, target=HandoffState.QUALIFIED)
    def qualify(self) -> None:
        pass

    @transition(field=state, source=OPEN_HANDOFF_STATES, target=HandoffState.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=state, source=OPEN_HANDOFF_STATES, target=HandoffState.REASSIGNED)
    def hand_over(self) -> None:
        pass

    @transition(field=state, source=OPEN_HANDOFF_STATES, target=HandoffState.RETURNED)
    def return_to_marketing(self) -> None:
        pass


class HandoffEvent(models.Model):
    """An audit row for everything that happens to a handoff, with the acting user."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        ACCEPTED = "accepted", "Accepted"
        ATTEMPT = "attempt", "Contact attempt"
        QUALIFIED = "qualified", "Qualified"
        REJECTED = "rejected", "Rejected"
        REASSIGNED = "reassigned", "Reassigned"
        ESCALATED = "escalated", "Escalated"
        RETURNED = "returned", "Returned to marketing"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on handoff {self.handoff_id}"


class AttemptChannel(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    LINKEDIN = "linkedin", "LinkedIn"
    SMS = "sms", "SMS"
    MEETING = "meeting", "Meeting"


class AttemptOutcome(models.TextChoices):
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    CONNECTED = "connected", "Connected"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    BOUNCED = "bounced", "Bounced / wrong number"


class ContactAttempt(models.Model):
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="attempts")
    channel = models.CharField(max_length=10, choices=AttemptChannel.choices)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    note = models.TextField(blank=True)
    attempted_at = models.DateTimeField()
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_outcome_display()}"


class EscalationLevel(models.IntegerChoices):
    """The SLA engine's steps, in the order they fall due."""

    WARNING = 0, "Rep warned: deadline near"
    REMIND_REP = 1, "Rep reminded: deadline missed"
    MANAGER_ALERT = 2, "Manager alerted"
    REASSIGN = 3, "Reassigned to another rep"
    RETURN_TO_MARKETING = 4, "Returned to marketing"
    CADENCE_MISSED = 5, "Follow-up cadence missed; manager alerted"


class Escalation(models.Model):
    """A missed deadline acted on. The unique pair makes each level happen once per handoff."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(choices=EscalationLevel.choices)
    # The rep who held the lead when the deadline was missed: the breach counts against them.
    rep = models.ForeignKey("reps.Rep", on_delete=models.PROTECT, related_name="breaches")
    notified = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "level"], name="one_escalation_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} on handoff {self.handoff_id}"


class Notification(models.Model):
    """An in-app alert. Email goes out from it after commit; `key` stops a second copy."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30)
    key = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="one_notification_per_key")
        ]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return self.title


class HandoffPoint(models.TextChoices):
    TO_BDR = "to_bdr", "Before an MQL goes to a BDR"
    TO_ACCOUNT_EXECUTIVE = "to_ae", "Before an SQL goes to an account executive"


class RequiredField(models.Model):
    """A CRM field that must be filled before a lead changes hands at the given point."""

    point = models.CharField(max_length=10, choices=HandoffPoint.choices)
    field = models.CharField(max_length=50, help_text="A lead field, e.g. phone or pain.")
    label = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["point", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["point", "field"], name="one_required_field_per_point")
        ]

    def __str__(self) -> str:
        return f"{self.get_point_display()}: {self.label or self.field}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from handoff.documentation import REQUIRABLE_FIELDS

        if self.field not in REQUIRABLE_FIELDS:
            raise ValidationError(
                {
                    "field": f"'{self.field}' is not a lead field that can be required. Use one of "
                    f"{', '.join(sorted(REQUIRABLE_FIELDS))}."
                }
            )


class QuarterlyReview(models.Model):
    """RevOps' quarterly review of the protocol: the quarter's figures, frozen, and what was
    decided."""

    quarter_start = models.DateField(unique=True)
    reviewed_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    metrics = models.JSONField(default=dict, help_text="A snapshot taken when the review was held.")
    decisions = models.TextField(help_text="What the teams agreed to change, and why.")

    class Meta:
        ordering = ["-quarter_start"]

    def __str__(self) -> str:
        return f"Review of the quarter starting {self.quarter_start}"


class DeliveryChannel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Delivery(FSMModelMixin, models.Model):
    """One notification going out on one channel: the outbox row a worker claims and sends.

    The row is written with its notification, in the same transaction as the change that
    caused it, so a committed change always has its deliveries and a rolled-back one has none.
    The status moves only through the compare-and-set updates in handoff.delivery.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    status = FSMField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        protected=True,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a pending delivery may next be tried; the retry sweep reads it.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker took the row; a claim older than the lease is taken to be lost.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The kind of error only (an exception class or an HTTP status), never an address.
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="one_delivery_per_channel"
            ),
        ]
        indexes = [
            # The retry sweep: pending deliveries whose next attempt has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_pending_due",
            ),
            # The retry sweep: deliveries whose worker may have died mid-send.
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="delivery_sending_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} for notification {self.notification_id}"


class NotificationPreference(models.Model):
    """A user's choice of channel for one kind of notification. No row means the channel is on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30)
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["user", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="one_preference_per_kind_and_channel"
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.kind} by {self.get_channel_display()}: {state}"
