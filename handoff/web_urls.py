from django.urls import path

from feedback import views as feedback_views
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
    path("handoffs/<int:handoff_id>/bant/", views.handoff_bant_view, name="handoff-bant"),
    path("handoffs/<int:handoff_id>/context/", views.handoff_context_view, name="handoff-context"),
    path("handoffs/<int:handoff_id>/qualify/", views.handoff_qualify_view, name="handoff-qualify"),
    path(
        "handoffs/<int:handoff_id>/opportunity/",
        views.handoff_opportunity_view,
        name="handoff-opportunity",
    ),
    path(
        "handoffs/<int:handoff_id>/reassign/",
        views.handoff_reassign_view,
        name="handoff-reassign",
    ),
    path("team/", views.manager_dashboard, name="manager-dashboard"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/preferences/", notification_preferences, name="notification-preferences"),
    path("protocol/", views.protocol_page, name="protocol"),
    path("protocol.md", views.protocol_markdown, name="protocol-markdown"),
    path("protocol/reviews/", views.protocol_review_view, name="protocol-review"),
    # The feedback pages beyond the review itself (feedback.urls, mounted at /feedback/).
    path(
        "feedback/rejections/",
        feedback_views.rejection_drilldown,
        name="feedback-rejections",
    ),
    path("feedback/review.csv", feedback_views.feedback_review_csv, name="feedback-review-csv"),
    path(
        "feedback/leads/<int:lead_id>/recycle/",
        feedback_views.lead_recycle_view,
        name="lead-recycle",
    ),
]
