from django.utils import timezone

from leads.models import Source, SourceToken


def source_for_token(*, token: str) -> Source | None:
    """The active source a bearer token belongs to, or None. Marks the token as used."""
    from leads.services import token_hash

    if not token:
        return None
    match = (
        SourceToken.objects.select_related("source")
        .filter(token_hash=token_hash(token), active=True, source__active=True)
        .first()
    )
    if match is None:
        return None
    SourceToken.objects.filter(pk=match.pk).update(last_used_at=timezone.now())
    return match.source
