"""Middleware of the project's own."""

from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    """Give a 405 a page a person can read.

    Action URLs accept POST only. Opened from the address bar or an old bookmark, Django's
    answer has an empty body, which the browser shows as a blank page; this keeps the status
    and the Allow header and adds a page that says what happened and where to go.
    """

    def __init__(self, get_response):  # noqa: ANN001
        self.get_response = get_response

    def __call__(self, request):  # noqa: ANN001, ANN204
        response = self.get_response(request)
        if response.status_code != 405 or response.content or getattr(request, "htmx", False):
            return response
        page = render(request, "405.html", status=405)
        page["Allow"] = response.get("Allow", "")
        return page
