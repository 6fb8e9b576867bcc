from django.http import HttpRequest

from handoff import roles


def navigation(request: HttpRequest) -> dict:
    """What the top bar needs: the user's roles and unread notification count."""
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "is_bdr": roles.has_role(user, roles.BDR),
        "is_manager": roles.has_role(user, roles.MANAGER),
        "is_marketing": roles.has_role(user, roles.MARKETING),
        "is_revops": roles.has_role(user, roles.REVOPS),
        "unread_notifications": user.notifications.filter(read_at__isnull=True).count(),
    }
