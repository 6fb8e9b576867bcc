"""What every page shares: the role check, safe redirects after a POST, and the answer to an
htmx request (a fragment, plus out-of-band updates of other parts of the page)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from handoff import roles
from handoff.templatetags.handoff_tags import viewer_timezone_name


def role_required(*allowed: str) -> Callable:
    """Anonymous users go to the login page; signed-in users without the role get a 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # noqa: ANN002,ANN003
            if not roles.has_role(request.user, *allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def next_or(request: HttpRequest, default: str) -> str:
    """Where to go after a POST: the form's `next` when it is a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def render_fragments(
    request: HttpRequest, fragments: list[tuple[str, dict]], *, status: int = 200
) -> HttpResponse:
    """Answer an htmx request with templates one after the other: the first is swapped into
    the request's target, the others carry hx-swap-oob and replace their own element. Pending
    messages always go last, into the page's message area."""
    # Pages show times in the viewer's zone (base.html); the fragments must agree with them.
    with timezone.override(viewer_timezone_name(request.user)):
        parts = [
            render_to_string(template, context, request=request) for template, context in fragments
        ]
    parts.append(render_to_string("includes/messages.html", {"oob": True}, request=request))
    response = HttpResponse("".join(parts), status=status)
    vary_on_htmx(response)
    return response


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    # The same URL answers a whole page or a fragment; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
