"""Every page and action against every role.

Rules the table encodes: anonymous visitors are sent to the login page; a signed-in user whose
role has no business on a page gets 403; a user who may use the page but not see this handoff
gets 404, exactly as if it did not exist, so that handoff ids leak nothing.
"""

import re

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from feedback.models import Rejection
from handoff import roles
from handoff.models import ContactAttempt, Handoff, HandoffEvent, HandoffState
from handoff.services import handoff_assign
from leads.models import Stage
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
OWNER = "BDR owner"
OTHER_BDR = "other BDR"
TEAM_MANAGER = "manager of the team"
OTHER_MANAGER = "manager of another team"
MARKETING = "marketing"
REVOPS = "RevOps"
ROLES = (ANONYMOUS, OWNER, OTHER_BDR, TEAM_MANAGER, OTHER_MANAGER, MARKETING, REVOPS)

LOGIN = "login"

# url name -> (method, POST data, {role: expected status, or the url name a redirect goes to}).
ACTION_DATA = {
    "handoff-accept": {},
    "handoff-reject": {"reason": "not-qualified", "note": "Too small for us."},
    "handoff-attempt": {"channel": "email", "outcome": "no_answer"},
}
EXPECTED = {
    "home": {
        ANONYMOUS: LOGIN,
        OWNER: "queue",
        OTHER_BDR: "queue",
        TEAM_MANAGER: "manager-dashboard",
        OTHER_MANAGER: "manager-dashboard",
        MARKETING: "feedback-review",
        REVOPS: "admin:index",
    },
    "queue": {
        ANONYMOUS: LOGIN,
        OWNER: 200,
        OTHER_BDR: 200,
        TEAM_MANAGER: 200,
        OTHER_MANAGER: 200,
        MARKETING: 403,
        REVOPS: 403,
    },
    "handoff-detail": {
        ANONYMOUS: LOGIN,
        OWNER: 200,
        OTHER_BDR: 404,
        TEAM_MANAGER: 200,
        OTHER_MANAGER: 404,
        MARKETING: 403,
        REVOPS: 200,
    },
    "handoff-accept": {
        ANONYMOUS: LOGIN,
        OWNER: "queue",
        OTHER_BDR: 404,
        TEAM_MANAGER: "queue",
        OTHER_MANAGER: 404,
        MARKETING: 403,
        REVOPS: 403,
    },
    "handoff-reject": {
        ANONYMOUS: LOGIN,
        OWNER: "queue",
        OTHER_BDR: 404,
        TEAM_MANAGER: "queue",
        OTHER_MANAGER: 404,
        MARKETING: 403,
        REVOPS: 403,
    },
    "handoff-attempt": {
        ANONYMOUS: LOGIN,
        OWNER: "queue",
        OTHER_BDR: 404,
        TEAM_MANAGER: "queue",
        OTHER_MANAGER: 404,
        MARKETING: 403,
        REVOPS: 403,
    },
    "manager-dashboard": {
        ANONYMOUS: LOGIN,
        OWNER: 403,
        OTHER_BDR: 403,
        TEAM_MANAGER: 200,
        OTHER_MANAGER: 200,
        MARKETING: 403,
        REVOPS: 200,
    },
    "notifications": {
        ANONYMOUS: LOGIN,
        OWNER: 200,
        OTHER_BDR: 200,
        TEAM_MANAGER: 200,
        OTHER_MANAGER: 200,
        MARKETING: 200,
        REVOPS: 200,
    },
    "feedback-review": {
        ANONYMOUS: LOGIN,
        OWNER: 403,
        OTHER_BDR: 403,
        TEAM_MANAGER: 200,
        OTHER_MANAGER: 200,
        MARKETING: 200,
        REVOPS: 200,
    },
}
HANDOFF_URLS = {"handoff-detail", *ACTION_DATA}


@pytest.fixture
def world() -> dict:
    """One handoff of the owner's, and a user for every role.

    The owner is the only rep when the lead is routed, so the assignment service has to give
    it to them; the other BDR joins afterwards, on another team with its own manager.
    """
    owner = RepFactory(user__username="owner")
    lead = LeadFactory(stage=Stage.MQL, mql_count=1)
    with transaction.atomic():
        handoff = handoff_assign(lead=lead, actor=None)
    other = RepFactory(user__username="other")
    return {
        "handoff": handoff,
        "users": {
            ANONYMOUS: None,
            OWNER: owner.user,
            OTHER_BDR: other.user,
            TEAM_MANAGER: owner.team.manager,
            OTHER_MANAGER: other.team.manager,
            MARKETING: UserFactory(username="marketing", roles=[roles.MARKETING]),
            REVOPS: UserFactory(username="revops", roles=[roles.REVOPS]),
        },
    }


def _request(client, url_name: str, handoff: Handoff):  # noqa: ANN001,ANN202
    args = [handoff.pk] if url_name in HANDOFF_URLS else []
    url = reverse(url_name, args=args)
    if url_name in ACTION_DATA:
        return url, client.post(url, ACTION_DATA[url_name])
    return url, client.get(url)


def _without_csrf(content: bytes) -> bytes:
    # The CSRF token is masked afresh on every page, so it differs even between equal pages.
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def _snapshot(handoff: Handoff) -> tuple:
    return (
        Handoff.objects.filter(pk=handoff.pk).values().get(),
        list(HandoffEvent.objects.values_list("pk", flat=True)),
        ContactAttempt.objects.count(),
        Rejection.objects.count(),
    )


@pytest.mark.parametrize(
    ("url_name", "role", "expected"),
    [(url_name, role, by_role[role]) for url_name, by_role in EXPECTED.items() for role in ROLES],
)
def test_every_page_answers_every_role_as_expected(client, world, url_name, role, expected):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    handoff = world["handoff"]
    before = _snapshot(handoff)

    url, response = _request(client, url_name, handoff)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={url}"
    elif isinstance(expected, str):
        assert response.status_code == 302
        assert response.url == reverse(expected)
    else:
        assert response.status_code == expected
    if expected == LOGIN or (url_name in ACTION_DATA and not isinstance(expected, str)):
        # A refused request leaves no trace: same handoff row, no event, attempt or rejection.
        assert _snapshot(handoff) == before


@pytest.mark.parametrize("url_name", sorted(ACTION_DATA))
def test_a_get_on_an_action_is_refused_and_changes_nothing(client, world, url_name):
    client.force_login(world["users"][OWNER])
    handoff = world["handoff"]
    before = _snapshot(handoff)

    response = client.get(reverse(url_name, args=[handoff.pk]))

    assert response.status_code == 405
    assert _snapshot(handoff) == before


@pytest.mark.parametrize("url_name", sorted(HANDOFF_URLS))
def test_other_bdr_gets_the_same_404_for_a_real_and_a_missing_handoff(client, world, url_name):
    client.force_login(world["users"][OTHER_BDR])
    missing = Handoff(pk=world["handoff"].pk + 1000)

    # The page carries the server's clock, so both answers are rendered at the same instant.
    with time_machine.travel(timezone.now(), tick=False):
        _, theirs = _request(client, url_name, world["handoff"])
        _, nobody = _request(client, url_name, missing)

    assert (theirs.status_code, nobody.status_code) == (404, 404)
    assert _without_csrf(theirs.content) == _without_csrf(nobody.content)


def test_the_team_manager_acts_on_the_reps_behalf(client, world):
    manager = world["users"][TEAM_MANAGER]
    handoff = world["handoff"]
    client.force_login(manager)

    client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert Handoff.objects.get(pk=handoff.pk).state == HandoffState.ACCEPTED
    assert list(HandoffEvent.objects.values_list("kind", "actor_id")) == [
        ("assigned", None),
        ("accepted", manager.pk),
    ]
