import json
from datetime import UTC, datetime

import pytest
import time_machine

from handoff.models import Handoff
from leads.models import Activity, InboundRequest, Lead
from leads.services import source_token_create
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory

pytestmark = pytest.mark.django_db

URL = "/api/activities/"
NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


@pytest.fixture
def source():
    return SourceFactory(slug="website", name="Website")


@pytest.fixture
def token(source):
    return source_token_create(source=source, label="site")


def post(client, token: str | None, body: dict | str, key: str | None = "key-1"):  # noqa: ANN001,ANN201
    headers = {}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


DEMO = {
    "lead": {"email": "Ann@Acme.example", "first_name": "Ann", "job_title": "VP Sales"},
    "activity": {"kind": "demo_request", "detail": "/demo"},
}


def test_demo_request_creates_scores_and_hands_off_the_lead(client, token):
    rep = RepFactory(user__username="bdr")
    # Tuesday 15:00 UTC on a 9-17 UTC calendar: two hours today, two tomorrow.
    with time_machine.travel(NOW, tick=False):
        response = post(client, token, DEMO)
    assert response.status_code == 201
    body = response.json()
    lead = Lead.objects.get()
    handoff = Handoff.objects.get()
    # Shipped rules: senior role 15, company email 10, demo request 50.
    assert body == {
        "lead_id": lead.pk,
        "created": True,
        "activity_id": Activity.objects.get().pk,
        "score": 75,
        "fit_score": 25,
        "engagement_score": 50,
        "stage": "mql",
        "handoff": {"id": handoff.pk, "owner": "bdr", "due_at": "2026-12-02T11:00:00+00:00"},
    }
    assert handoff.rep == rep


def test_retry_with_the_same_key_creates_nothing(client, token):
    RepFactory()
    first = post(client, token, DEMO)
    second = post(client, token, DEMO)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert (Lead.objects.count(), Activity.objects.count(), Handoff.objects.count()) == (1, 1, 1)


def test_page_visit_below_threshold_adds_activity_to_existing_lead(client, token):
    lead = LeadFactory(email="bob@corp.example", job_title="")
    response = post(
        client,
        token,
        {
            "lead": {"email": "BOB@corp.example"},
            "activity": {"kind": "page_visit", "detail": "/blog"},
        },
    )
    assert response.status_code == 201
    assert response.json()["lead_id"] == lead.pk
    assert response.json()["created"] is False
    assert response.json()["stage"] == "lead"
    assert response.json()["handoff"] is None


@pytest.mark.parametrize("token_value", [None, "wrong-token"])
def test_unknown_token_is_refused(client, token, token_value):
    response = post(client, token_value, DEMO)
    assert response.status_code == 401
    assert response.json() == {"errors": {"authorization": ["Missing or unknown source token."]}}
    assert not Lead.objects.exists()


def test_validation_errors_name_the_fields(client, token):
    response = post(
        client,
        token,
        {"lead": {"email": "not-an-email"}, "activity": {"kind": "teleport", "quantity": 0}},
        key=None,
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "idempotency_key": ["Send an Idempotency-Key header of 1 to 200 characters."],
        "lead.email": ["Enter a valid email address."],
        "lead": ["Give the lead's email or external_id."],
        "activity.kind": ["Select a valid choice. teleport is not one of the available choices."],
        "activity.quantity": ["Ensure this value is greater than or equal to 1."],
    }
    assert not Lead.objects.exists()
    assert not InboundRequest.objects.exists()


def test_a_company_size_beyond_any_company_is_refused_as_a_field_error(client, token):
    body = {**DEMO, "lead": {"email": "x@y.com", "company_size": 99999999999999999999999}}

    response = post(client, token, body)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "lead.company_size": ["Ensure this value is less than or equal to 10000000."],
    }
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()
    assert not InboundRequest.objects.exists()


def test_the_largest_company_size_is_taken(client, token):
    body = {**DEMO, "lead": {"email": "x@y.com", "company_size": 10_000_000}}

    response = post(client, token, body)

    assert response.status_code == 201
    assert Lead.objects.get().company_size == 10_000_000


def test_an_activity_dated_at_the_start_of_the_calendar_is_refused_as_a_field_error(client, token):
    body = {**DEMO, "activity": {**DEMO["activity"], "occurred_at": "0001-01-01T00:00:00+05:00"}}

    response = post(client, token, body)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "activity.occurred_at": [
            "'0001-01-01T00:00:00+05:00' is not between 2000-01-01 and 2100-01-01"
        ],
    }
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()
    assert not InboundRequest.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_an_activity_dated_in_the_future_is_refused_and_nothing_is_written(client, token):
    body = {**DEMO, "activity": {**DEMO["activity"], "occurred_at": "2099-01-01T00:00:00Z"}}

    response = post(client, token, body)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "activity.occurred_at": [
            "An activity cannot happen in the future: 2099-01-01T00:00:00+00:00 is after "
            "2026-12-01T15:00:00+00:00."
        ]
    }
    assert not Lead.objects.exists()
    assert not InboundRequest.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_timestamp_a_minute_ahead_of_the_server_is_a_clock_difference(client, token):
    ahead = {**DEMO["activity"], "occurred_at": "2026-12-01T15:01:00Z"}

    response = post(client, token, {**DEMO, "activity": ahead})

    assert response.status_code == 201
    assert Activity.objects.get().occurred_at == datetime(2026, 12, 1, 15, 1, tzinfo=UTC)


def test_malformed_json_is_refused(client, token):
    response = post(client, token, "{not json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]


def test_get_is_not_allowed(client):
    response = client.get(URL, HTTP_ACCEPT="application/json")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.content == b""
