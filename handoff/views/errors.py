"""How a refused service call is answered: 403 when the actor may not, 409 when someone else
changed the handoff first, 400 with the service's message when the request cannot be done.

Nothing was changed in any of these cases: services refuse before they write.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from handoff.errors import HandoffError, PermissionRefused, TransitionConflict
from handoff.selectors import handoff_get_for_user

# The browser script shows this for an htmx request, whose answer is not drawn.
CSRF_FAILURE_HEADER = "X-Handoff-Refused"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form's security token no longer matches the session: not a matter of role. Nothing
    was saved; a reload gives the page a fresh token."""
    response = render(request, "403_csrf.html", status=403)
    response[CSRF_FAILURE_HEADER] = "session"
    return response


def service_error_response(
    request: HttpRequest, error: HandoffError, handoff_id: int
) -> HttpResponse:
    from handoff.views.packet import detail_context
    from handoff.views.queue import row_response

    if isinstance(error, PermissionRefused):
        raise PermissionDenied(str(error))
    status = 409 if isinstance(error, TransitionConflict) else 400
    if request.htmx:
        # The row is shown as it is now, with the reason beside it in the messages.
        if status == 409:
            messages.warning(request, str(error))
        else:
            messages.error(request, str(error))
        return row_response(request, handoff_id, status=status)
    if status == 409:
        # A conflict is reported as such to scripts; people get a page that says what to do.
        return render(
            request,
            "handoff/conflict.html",
            {"message": str(error), "handoff_id": handoff_id},
            status=409,
        )
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    context = detail_context(request=request, handoff=handoff, error=str(error))
    return render(request, "handoff/detail.html", context, status=400)
