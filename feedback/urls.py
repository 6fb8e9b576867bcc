from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.feedback_review, name="feedback-review"),
]
