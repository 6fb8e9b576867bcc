"""Roles are Django groups. Views ask these helpers, never group names directly."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

BDR = "BDR"
ACCOUNT_EXECUTIVE = "Account executive"
MANAGER = "Manager"
MARKETING = "Marketing"
REVOPS = "RevOps admin"
ALL_ROLES = (BDR, ACCOUNT_EXECUTIVE, MANAGER, MARKETING, REVOPS)


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    names = getattr(user, "_role_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._role_names = names
    return bool(names.intersection(roles))
