"""The page where each user chooses, per kind of notification, the channels it reaches them on.

Kept apart from the other pages so that it stands on its own: one view, one template
(handoff/notification_preferences.html) and one URL.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from handoff.delivery import slack_webhook_for
from handoff.models import DeliveryChannel
from handoff.notifications import (
    ALWAYS_IN_APP,
    notification_kinds_for,
    notification_preferences_for,
    notification_preferences_from_form,
    notification_preferences_set,
)


@login_required
def notification_preferences(request: HttpRequest) -> HttpResponse:
    kinds = notification_kinds_for(user=request.user)
    if request.method == "POST":
        choices = notification_preferences_from_form(
            kinds=kinds, checked=request.POST.getlist("on")
        )
        changed = notification_preferences_set(user=request.user, choices=choices)
        messages.success(
            request, f"Saved: {changed} change{'s' if changed != 1 else ''} to your notifications."
        )
        return redirect("notification-preferences")

    current = notification_preferences_for(user=request.user)
    rows = [
        {
            "kind": kind,
            "label": label,
            "channels": [
                {
                    "value": f"{kind}:{channel}",
                    "label": channel_label,
                    "on": current[kind, channel] or locked,
                    "locked": locked,
                }
                for channel, channel_label in DeliveryChannel.choices
                for locked in [kind in ALWAYS_IN_APP and channel == DeliveryChannel.IN_APP]
            ],
        }
        for kind, label in kinds.items()
    ]
    return render(
        request,
        "handoff/notification_preferences.html",
        {
            "rows": rows,
            "channels": DeliveryChannel.choices,
            "has_email": bool(request.user.email),
            "has_slack": bool(slack_webhook_for(user=request.user)),
        },
    )
