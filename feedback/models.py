from django.conf import settings
from django.db import models


class RejectionOutcome(models.TextChoices):
    RECYCLE = "recycle", "Recycle to nurture"
    DISQUALIFY = "disqualify", "Disqualify for good"


class RejectionReason(models.Model):
    """An admin-kept reason sales may give for rejecting a lead, and what then happens to it."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    outcome = models.CharField(
        max_length=10, choices=RejectionOutcome.choices, default=RejectionOutcome.RECYCLE
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class Rejection(models.Model):
    """Why sales gave a lead back. Every rejection has a reason and a note."""

    handoff = models.OneToOneField(
        "handoff.Handoff", on_delete=models.CASCADE, related_name="rejection"
    )
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="rejections")
    reason = models.ForeignKey(RejectionReason, on_delete=models.PROTECT)
    note = models.TextField()
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(note=""), name="rejection_has_note"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.lead_id})"
