"""Admin for the SLA protocol. Policies are edited here; handoffs, escalations and notifications
are only shown, because every change to them goes through handoff.services, which writes the
event row and the notifications with it. No admin form writes a state field."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from handoff.delivery import deliveries_retry
from handoff.models import (
    ContactAttempt,
    Delivery,
    Escalation,
    Handoff,
    HandoffEvent,
    Notification,
    NotificationPreference,
    RequiredField,
    SlaPolicy,
)
from handoff.services import handoff_sla_check


class ReadOnlyAdminMixin:
    """Show rows without letting anyone add, edit or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "min_score", "first_response_hours", "position", "active"]
    list_editable = ["position", "active"]
    list_filter = ["active", "source"]
    list_select_related = ["source"]


@admin.register(RequiredField)
class RequiredFieldAdmin(admin.ModelAdmin):
    """The CRM fields a lead must have before it changes hands: to a BDR as an MQL, or to an
    account executive as an SQL. The handoff packet shows them as a checklist."""

    list_display = ["field", "label", "point", "position", "active"]
    list_editable = ["position", "active"]
    list_filter = ["point", "active"]


class HandoffEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = HandoffEvent
    extra = 0
    fields = ["created_at", "kind", "actor", "from_state", "to_state", "note"]
    readonly_fields = fields


class ContactAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ContactAttempt
    extra = 0
    fields = ["attempted_at", "channel", "outcome", "logged_by"]
    readonly_fields = fields


class OverdueFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("overdue", "Past deadline, no response"), ("waiting", "Waiting, in time")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.awaiting_first_response().filter(due_at__lte=now)
        if self.value() == "waiting":
            return queryset.awaiting_first_response().filter(due_at__gt=now)
        return queryset


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "lead",
        "rep",
        "state",
        "assigned_at",
        "due_at",
        "first_response_at",
        "first_response_hours",
    ]
    list_filter = ["state", OverdueFilter, "rep", "lead__source"]
    list_select_related = ["lead", "rep__user"]
    search_fields = ["=id", "lead__email", "lead__company"]
    date_hierarchy = "assigned_at"
    fields = [
        "lead",
        "rep",
        "state",
        "policy",
        "first_response_hours",
        "assigned_at",
        "due_at",
        "accepted_at",
        "first_response_at",
        "ended_at",
        "previous",
    ]
    readonly_fields = fields
    inlines = [ContactAttemptInline, HandoffEventInline]
    actions = ["escalate_overdue"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Handoffs come from routing, never from a blank form.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Handoff | None = None) -> bool:
        # The list allows the escalation action to whoever may change handoffs; a single handoff
        # is shown read-only, since its state changes only through the services.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Handoff | None = None) -> bool:
        return False

    @admin.action(
        description="Run the SLA check now on the selected handoffs",
        permissions=["change"],
    )
    def escalate_overdue(self, request: HttpRequest, queryset: QuerySet[Handoff]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        acted = sum(1 for pk in ids if handoff_sla_check(handoff_id=pk))
        self.message_user(
            request,
            f"SLA steps taken on {acted} of {len(ids)} handoffs; nothing was due on the others.",
            messages.SUCCESS if acted else messages.INFO,
        )


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "handoff", "level", "rep", "notified"]
    list_filter = ["level", "rep"]
    list_select_related = ["handoff", "rep__user", "notified"]
    date_hierarchy = "created_at"
    fields = ["handoff", "level", "rep", "notified", "created_at"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "title", "read_at", "emailed_at"]
    list_filter = ["kind", ("emailed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient"]
    search_fields = ["key", "recipient__username"]
    date_hierarchy = "created_at"
    fields = ["recipient", "kind", "key", "title", "body", "url", "created_at", "read_at",
              "emailed_at"]  # fmt: skip
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The outbox. Rows are written with their notification and moved only by the senders;
    RevOps can see why one is stuck and send it again."""

    list_display = [
        "created_at",
        "notification",
        "recipient",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["notification__recipient"]
    search_fields = ["=notification__id", "notification__recipient__username"]
    date_hierarchy = "created_at"
    fields = ["notification", "channel", "status", "attempts", "next_attempt_at", "claimed_at",
              "sent_at", "last_error", "created_at"]  # fmt: skip
    readonly_fields = fields
    actions = ["retry_now"]

    @admin.display(description="Recipient", ordering="notification__recipient__username")
    def recipient(self, delivery: Delivery) -> str:
        return delivery.notification.recipient.get_username()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        # The list offers "retry now" to whoever may change deliveries; a row itself is read-only.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.action(description="Retry now (never resends a sent one)", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queued = deliveries_retry(delivery_ids=ids, actor=request.user)
        self.message_user(
            request,
            f"{queued} of {len(ids)} deliveries queued to send now; the others were already "
            "sent or being sent.",
            messages.SUCCESS if queued else messages.INFO,
        )


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "channel", "enabled"]
    list_filter = ["channel", "enabled", "kind"]
    list_select_related = ["user"]
    search_fields = ["user__username", "kind"]
    raw_id_fields = ["user"]
