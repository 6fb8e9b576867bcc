"""Pages for marketing: the lead upload and its progress; and the CSV / Excel exports.

Each view checks the role, binds input, calls one service or selector, and renders, redirects
or streams. The import itself runs in a worker (leads.importing.jobs).
"""

import csv
import io
from collections.abc import Iterable

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from handoff import roles
from handoff.views import role_required
from leads import export
from leads.importing.forms import ImportConfirmForm, ImportUploadForm
from leads.importing.jobs import (
    ImportJobRefused,
    confirm_problem,
    import_job_confirm,
    import_job_create,
)
from leads.models import ImportJob, ImportJobStatus

IMPORT_ROLES = (roles.MARKETING, roles.REVOPS)
RECENT_JOBS = 20
ERRORS_SHOWN = 200


@role_required(*IMPORT_ROLES)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_job_create(
            actor=request.user,
            upload=form.cleaned_data["file"],
            source=form.cleaned_data["source"],
            preset=form.cleaned_data["preset"],
            date_format=form.cleaned_data["date_format"],
        )
        return redirect("lead-import-job", job_id=job.pk)
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-pk")
    return render(
        request,
        "leads/import_upload.html",
        {"form": form, "jobs": jobs[:RECENT_JOBS]},
        status=400 if form.is_bound else 200,
    )


def _job_status(job: ImportJob) -> dict:
    """What the page polls: where the job is, and its rows done out of the total."""
    total = job.rows_total or 0
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "running": job.is_running,
        "phase": "check" if job.status == ImportJobStatus.CHECKING else "import",
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": min(100, round(100 * job.rows_done / total)) if total else 0,
        "counts": job.counts or job.check_counts,
        "errors_total": job.errors_total,
    }


@role_required(*IMPORT_ROLES)
def import_job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("source", "created_by"), pk=job_id)
    return render(
        request,
        "leads/import_job.html",
        {
            "job": job,
            "status": _job_status(job),
            "checked": job.check_counts,
            "done": job.counts,
            "errors": job.errors[:ERRORS_SHOWN],
            "errors_shown": min(len(job.errors), ERRORS_SHOWN),
            "can_confirm": confirm_problem(job, skip_invalid_rows=True) is None,
            "needs_skip": job.status == ImportJobStatus.REFUSED,
            "confirm_form": ImportConfirmForm(),
        },
    )


@role_required(*IMPORT_ROLES)
def import_job_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    return JsonResponse(_job_status(job))


@role_required(*IMPORT_ROLES)
@require_POST
def import_job_confirm_view(request: HttpRequest, job_id: int) -> HttpResponse:
    get_object_or_404(ImportJob, pk=job_id)
    form = ImportConfirmForm(request.POST)
    form.is_valid()
    try:
        import_job_confirm(
            job_id=job_id,
            actor=request.user,
            skip_invalid_rows=bool(form.cleaned_data.get("skip_invalid_rows")),
        )
    except ImportJobRefused as error:
        messages.error(request, str(error))
    return redirect("lead-import-job", job_id=job_id)


@role_required(*IMPORT_ROLES)
def import_job_errors(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's errors as CSV. Messages quote the file's cells, so they are neutralised."""
    job = get_object_or_404(ImportJob, pk=job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Row", "Column", "Error"])
    for error in job.errors:
        writer.writerow(
            [
                error["row"] or "",
                export.neutralise_formula(error["column"]),
                export.neutralise_formula(error["message"]),
            ]
        )
    response = HttpResponse("\ufeff" + out.getvalue(), content_type=export.CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# Exports.


def _export_response(
    *, fmt: str, name: str, columns: Iterable[export.Column], queryset
) -> HttpResponse:  # noqa: ANN001
    if fmt not in export.FORMATS:
        raise Http404("Export as csv or xlsx.")
    filename = f"{name}-{timezone.now():%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            export.csv_lines(columns, queryset), content_type=export.CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        export.xlsx_file(columns, queryset, title=name),
        as_attachment=True,
        filename=filename,
        content_type=export.XLSX_CONTENT_TYPE,
    )


@role_required(*export.LEAD_EXPORT_ROLES)
def export_leads(request: HttpRequest, fmt: str) -> HttpResponse:
    queryset = export.leads_for_export(user=request.user)
    return _export_response(fmt=fmt, name="leads", columns=export.LEAD_COLUMNS, queryset=queryset)


@role_required(*export.QUEUE_EXPORT_ROLES)
def export_queue(request: HttpRequest, fmt: str) -> HttpResponse:
    rep = request.GET.get("rep", "")
    if rep and not rep.isdigit():
        raise Http404("No such rep.")
    queryset = export.queue_for_export(user=request.user, rep_id=int(rep) if rep else None)
    return _export_response(fmt=fmt, name="queue", columns=export.QUEUE_COLUMNS, queryset=queryset)


@role_required(*export.FEEDBACK_EXPORT_ROLES)
def export_feedback(request: HttpRequest, fmt: str) -> HttpResponse:
    queryset = export.rejections_for_export(user=request.user)
    return _export_response(
        fmt=fmt, name="rejections", columns=export.FEEDBACK_COLUMNS, queryset=queryset
    )


def export_links() -> dict[str, str]:
    """The export addresses, for templates that link to them."""
    return {
        f"{name}_{fmt}": reverse(view, kwargs={"fmt": fmt})
        for name, view in (
            ("leads", "lead-export"),
            ("queue", "queue-export"),
            ("feedback", "feedback-export"),
        )
        for fmt in export.FORMATS
    }
