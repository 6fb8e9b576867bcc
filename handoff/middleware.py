"""Middleware of the project's own."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect


class MethodNotAllowedPageMiddleware:
    """Give a 405 a page a person can read.

    Action URLs accept POST only. Opened from the address bar or an old bookmark, Django's
    answer has an empty body, which the browser shows as a blank page; this keeps the status
    and the Allow header and adds a page that says what happened and where to go. Scripts
    (the API's clients, htmx) keep the plain answer: they do not ask for HTML.
    """

    def __init__(self, get_response):  # noqa: ANN001
        self.get_response = get_response

    def __call__(self, request):  # noqa: ANN001, ANN204
        response = self.get_response(request)
        if response.status_code != 405 or response.content or getattr(request, "htmx", False):
            return response
        if "text/html" not in request.headers.get("Accept", ""):
            return response
        page = render(request, "405.html", status=405)
        page["Allow"] = response.get("Allow", "")
        return page


class HtmxLoginRedirectMiddleware:
    """Send a page whose session has ended to the login page as a whole page.

    An htmx request (an Accept button, say) that finds the session gone is redirected to the
    login page, which htmx would follow and swap into the row. Instead the browser goes to
    the login page, and back to the page it was on after signing in: not to the action, which
    only answers a POST.
    """

    def __init__(self, get_response):  # noqa: ANN001
        self.get_response = get_response

    def __call__(self, request):  # noqa: ANN001, ANN204
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        back_to = htmx.current_url_abs_path or resolve_url(settings.LOGIN_REDIRECT_URL)
        return HttpResponseClientRedirect(f"{login}?{urlencode({'next': back_to})}")
