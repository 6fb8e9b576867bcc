from django.db.models import Count, QuerySet

from feedback.models import Rejection


def rejection_count() -> int:
    return Rejection.objects.count()


def rejections_by_reason() -> list[dict]:
    return list(
        Rejection.objects.values("reason__label", "reason__outcome")
        .annotate(count=Count("id"))
        .order_by("-count", "reason__label")
    )


def rejections_by_source() -> list[dict]:
    return list(
        Rejection.objects.values("lead__source__name")
        .annotate(count=Count("id"))
        .order_by("-count", "lead__source__name")
    )


def rejections_by_campaign() -> list[dict]:
    return list(
        Rejection.objects.values("lead__campaign")
        .annotate(count=Count("id"))
        .order_by("-count", "lead__campaign")
    )


def rejection_list_recent(*, limit: int = 50) -> QuerySet[Rejection]:
    return Rejection.objects.select_related(
        "reason", "lead__source", "rejected_by", "handoff__rep__user"
    ).order_by("-created_at", "-id")[:limit]
