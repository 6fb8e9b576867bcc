from django.urls import path

from leads import views

urlpatterns = [
    path("import/", views.import_upload, name="lead-import"),
    path("import/<int:job_id>/", views.import_job_detail, name="lead-import-job"),
    path("import/<int:job_id>/status/", views.import_job_status, name="lead-import-status"),
    path("import/<int:job_id>/confirm/", views.import_job_confirm_view, name="lead-import-confirm"),
    path("import/<int:job_id>/errors.csv", views.import_job_errors, name="lead-import-errors"),
    path("export/leads.<str:fmt>", views.export_leads, name="lead-export"),
    path("export/queue.<str:fmt>", views.export_queue, name="queue-export"),
    path("export/rejections.<str:fmt>", views.export_feedback, name="feedback-export"),
]
