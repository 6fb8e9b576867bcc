"""The inbound activity endpoint for website forms, page visits, webinars and chat.

POST /api/activities/ with `Authorization: Bearer <source token>` and an `Idempotency-Key`
header (or `idempotency_key` in the body). See docs/api.md for the payload.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from leads.forms import InboundActivityForm, InboundLeadForm
from leads.selectors import source_for_token
from leads.services import activity_ingest

MAX_BODY_BYTES = 64 * 1024


def _errors(form, prefix: str) -> dict[str, list[str]]:  # noqa: ANN001
    return {
        (prefix if field == "__all__" else f"{prefix}.{field}"): [
            str(message) for message in messages
        ]
        for field, messages in form.errors.items()
    }


@csrf_exempt
@require_POST
def activity_create(request: HttpRequest) -> JsonResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    source = source_for_token(token=token.strip()) if scheme.lower() == "bearer" else None
    if source is None:
        return JsonResponse(
            {"errors": {"authorization": ["Missing or unknown source token."]}}, status=401
        )

    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse(
            {"errors": {"body": ["The request body is larger than 64 KB."]}}, status=413
        )
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return JsonResponse({"errors": {"body": [f"Not valid JSON: {error}"]}}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"errors": {"body": ["Send a JSON object."]}}, status=400)

    key = (
        request.headers.get("Idempotency-Key") or str(payload.get("idempotency_key") or "")
    ).strip()
    errors: dict[str, list[str]] = {}
    if not key or len(key) > 200:
        errors["idempotency_key"] = ["Send an Idempotency-Key header of 1 to 200 characters."]
    lead_form = InboundLeadForm(
        payload.get("lead") if isinstance(payload.get("lead"), dict) else {}
    )
    activity_form = InboundActivityForm(
        payload.get("activity") if isinstance(payload.get("activity"), dict) else {}
    )
    if not lead_form.is_valid():
        errors.update(_errors(lead_form, "lead"))
    if not activity_form.is_valid():
        errors.update(_errors(activity_form, "activity"))
    if errors:
        return JsonResponse({"errors": errors}, status=400)

    response, replayed = activity_ingest(
        source=source,
        key=key,
        lead_fields=lead_form.cleaned_data,
        activity_fields=activity_form.cleaned_data,
    )
    return JsonResponse(response, status=200 if replayed else 201)
