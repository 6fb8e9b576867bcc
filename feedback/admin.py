from django.contrib import admin
from django.http import HttpRequest

from feedback.models import Rejection, RejectionReason


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "outcome", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["outcome", "active"]
    search_fields = ["label", "code"]
    prepopulated_fields = {"code": ["label"]}


@admin.register(Rejection)
class RejectionAdmin(admin.ModelAdmin):
    """Rejections are written only by handoff_reject, together with the lead's stage change and
    the handoff's event row; the admin shows them and nothing else."""

    list_display = ["created_at", "reason", "lead", "handoff", "rejected_by"]
    list_filter = ["reason", "lead__source"]
    list_select_related = ["reason", "lead", "handoff", "rejected_by"]
    date_hierarchy = "created_at"
    fields = ["handoff", "lead", "reason", "note", "rejected_by", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Rejection | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Rejection | None = None) -> bool:
        return False
