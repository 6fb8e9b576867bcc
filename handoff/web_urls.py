from django.urls import path

from handoff import views
from handoff.notification_views import notification_preferences

urlpatterns = [
    path("", views.home, name="home"),
    path("queue/", views.queue, name="queue"),
    path("handoffs/<int:handoff_id>/", views.handoff_detail, name="handoff-detail"),
    path("handoffs/<int:handoff_id>/accept/", views.handoff_accept_view, name="handoff-accept"),
    path("handoffs/<int:handoff_id>/reject/", views.handoff_reject_view, name="handoff-reject"),
    path(
        "handoffs/<int:handoff_id>/attempts/",
        views.handoff_attempt_view,
        name="handoff-attempt",
    ),
    path("team/", views.manager_dashboard, name="manager-dashboard"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/preferences/", notification_preferences, name="notification-preferences"),
]
