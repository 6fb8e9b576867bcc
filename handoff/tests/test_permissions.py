"""Every page and action against every role.

Rules the table encodes: anonymous visitors are sent to the login page; a signed-in user whose
role has no business on a page gets 403; a user who may use the page but not see this handoff
gets 404, exactly as if it did not exist, so that handoff ids leak nothing. A refused request
changes nothing.
"""

import re

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from feedback.models import Rejection
from handoff import roles
from handoff.models import ContactAttempt, Handoff, HandoffEvent, HandoffState, QuarterlyReview
from handoff.services import handoff_assign
from leads.models import Lead, LeadEvent, Stage
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
EXECUTIVE = "account executive"
NO_ROLE = "user with no role"
ROLES = (
    ANONYMOUS,
    OWNER,
    OTHER_BDR,
    TEAM_MANAGER,
    OTHER_MANAGER,
    MARKETING,
    REVOPS,
    EXECUTIVE,
    NO_ROLE,
)

LOGIN = "login"
PACKET = "/handoffs/{handoff}/"

# The POST data of each action; "{executive}" is replaced by the account executive's id.
ACTION_DATA = {
    "handoff-accept": {},
    "handoff-reject": {"reason": "not-qualified", "note": "Too small for us."},
    "handoff-attempt": {"channel": "email", "outcome": "no_answer"},
    "handoff-bant": {
        "budget_status": "confirmed",
        "budget_note": "Approved",
        "authority_status": "unknown",
        "authority_note": "",
        "need_status": "unknown",
        "need_note": "",
        "timeline_status": "unknown",
        "timeline_note": "",
    },
    "handoff-context": {"pain": "Quotes take a week.", "context": "Uses spreadsheets."},
    "handoff-qualify": {},
    "handoff-opportunity": {"account_executive": "{executive}"},
    "handoff-reassign": {"reason": "Rep is on leave."},
    "lead-recycle": {},
    "protocol-review": {"decisions": "Raise the MQL threshold to 60."},
}
HANDOFF_URLS = {
    "handoff-detail",
    "handoff-accept",
    "handoff-reject",
    "handoff-attempt",
    "handoff-bant",
    "handoff-bant-get",
    "handoff-context",
    "handoff-qualify",
    "handoff-opportunity",
    "handoff-reassign",
}
# Pages that answer 403 to every role but these, and send anonymous visitors to log in.
READ_FEEDBACK = {MARKETING: 200, TEAM_MANAGER: 200, OTHER_MANAGER: 200, REVOPS: 200}
# Actions on a handoff: the owner and the team's manager act (a redirect to the given page,
# or a status when the service refuses, as qualify does for a lead without BANT); the other
# BDR and manager get 404; other roles 403.
WORKERS = {OWNER, TEAM_MANAGER}
STRANGERS = {OTHER_BDR, OTHER_MANAGER}


def _on_handoff(done: object) -> dict:
    return {
        ANONYMOUS: LOGIN,
        **{role: done for role in WORKERS},
        **{role: 404 for role in STRANGERS},
        **{role: 403 for role in (MARKETING, REVOPS, EXECUTIVE, NO_ROLE)},
    }


def _only(allowed: dict) -> dict:
    return {role: LOGIN if role == ANONYMOUS else allowed.get(role, 403) for role in ROLES}


EXPECTED = {
    "home": {
        ANONYMOUS: LOGIN,
        OWNER: "/queue/",
        OTHER_BDR: "/queue/",
        TEAM_MANAGER: "/team/",
        OTHER_MANAGER: "/team/",
        MARKETING: "/feedback/",
        REVOPS: "/admin/",
        EXECUTIVE: "/notifications/",
        NO_ROLE: 403,
    },
    "queue": _only({OWNER: 200, OTHER_BDR: 200, TEAM_MANAGER: 200, OTHER_MANAGER: 200}),
    "handoff-detail": {**_on_handoff(200), REVOPS: 200, EXECUTIVE: 404},
    # Accepting and contacting stop the rep's clock: only the rep who holds the lead may.
    "handoff-accept": {**_on_handoff("/queue/"), TEAM_MANAGER: 403},
    "handoff-reject": _on_handoff("/queue/"),
    "handoff-attempt": {**_on_handoff("/queue/"), TEAM_MANAGER: 403},
    "handoff-bant-get": _on_handoff(PACKET + "#bant"),
    "handoff-bant": _on_handoff(PACKET + "#bant"),
    "handoff-context": _on_handoff(PACKET + "#pain"),
    # Refused: the lead was not accepted and BANT is unknown.
    "handoff-qualify": _on_handoff(400),
    # Refused: the lead is an MQL, not an SQL yet.
    "handoff-opportunity": _on_handoff(400),
    "handoff-reassign": {
        ANONYMOUS: LOGIN,
        OWNER: 403,
        OTHER_BDR: 403,
        TEAM_MANAGER: "/team/",
        OTHER_MANAGER: 404,
        MARKETING: 403,
        REVOPS: "/team/",
        EXECUTIVE: 403,
        NO_ROLE: 403,
    },
    "manager-dashboard": _only({TEAM_MANAGER: 200, OTHER_MANAGER: 200, REVOPS: 200}),
    "notifications": {role: LOGIN if role == ANONYMOUS else 200 for role in ROLES},
    "feedback-review": _only(READ_FEEDBACK),
    "feedback-rejections": _only(READ_FEEDBACK),
    "feedback-review-csv": _only(READ_FEEDBACK),
    # Refused for marketing too: this lead is an MQL, not waiting in the rejected stage.
    "lead-recycle": _only({MARKETING: 400}),
    "protocol": _only(
        {role: 200 for role in (OWNER, OTHER_BDR, TEAM_MANAGER, OTHER_MANAGER, MARKETING, REVOPS)}
        | {EXECUTIVE: 200}
    ),
    "protocol-markdown": _only(
        {role: 200 for role in (OWNER, OTHER_BDR, TEAM_MANAGER, OTHER_MANAGER, MARKETING, REVOPS)}
        | {EXECUTIVE: 200}
    ),
    "protocol-review": _only({REVOPS: "/protocol/"}),
}


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
            EXECUTIVE: UserFactory(username="ae", roles=[roles.ACCOUNT_EXECUTIVE]),
            NO_ROLE: UserFactory(username="nobody"),
        },
    }


def _request(client, url_name: str, world: dict, handoff_id: int | None = None):  # noqa: ANN001,ANN202
    handoff = world["handoff"]
    name = "handoff-bant" if url_name == "handoff-bant-get" else url_name
    if url_name in HANDOFF_URLS:
        args = [handoff_id or handoff.pk]
    elif url_name == "lead-recycle":
        args = [handoff.lead_id]
    else:
        args = []
    url = reverse(name, args=args)
    if url_name in ACTION_DATA:
        executive = world["users"][EXECUTIVE]
        data = {
            key: value.format(executive=executive.pk) if isinstance(value, str) else value
            for key, value in ACTION_DATA[url_name].items()
        }
        return url, client.post(url, data)
    return url, client.get(url)


def _without_csrf(content: bytes) -> bytes:
    # The CSRF token is masked afresh on every page, so it differs even between equal pages.
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)
    return re.sub(rb'"X-CSRFToken": "[^"]+"', b"", content)


def _snapshot(handoff: Handoff) -> tuple:
    return (
        list(Handoff.objects.order_by("pk").values()),
        Lead.objects.filter(pk=handoff.lead_id).values().get(),
        list(HandoffEvent.objects.values_list("pk", flat=True)),
        list(LeadEvent.objects.values_list("pk", flat=True)),
        ContactAttempt.objects.count(),
        Rejection.objects.count(),
        QuarterlyReview.objects.count(),
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

    url, response = _request(client, url_name, world)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={url}"
    elif isinstance(expected, str):
        assert response.status_code == 302
        assert response.url == expected.format(handoff=handoff.pk)
    else:
        assert response.status_code == expected
    if not isinstance(expected, int) or expected < 400:
        return
    # A refused request leaves no trace: the same rows, no event, attempt, rejection or review.
    assert _snapshot(handoff) == before


@pytest.mark.parametrize(
    "url_name",
    sorted(name for name in ACTION_DATA if name not in {"handoff-bant"}),
)
def test_a_get_on_an_action_is_refused_and_changes_nothing(client, world, url_name):
    user = {"lead-recycle": MARKETING, "protocol-review": REVOPS}.get(url_name, TEAM_MANAGER)
    client.force_login(world["users"][user])
    handoff = world["handoff"]
    before = _snapshot(handoff)
    args = [handoff.lead_id] if url_name == "lead-recycle" else []
    if url_name.startswith("handoff-"):
        args = [handoff.pk]

    response = client.get(reverse(url_name, args=args))

    assert response.status_code == 405
    assert _snapshot(handoff) == before


@pytest.mark.parametrize("url_name", sorted(HANDOFF_URLS))
def test_a_stranger_gets_the_same_404_for_a_real_and_a_missing_handoff(client, world, url_name):
    # Reassigning is for managers: the stranger is the other team's manager there.
    stranger = OTHER_MANAGER if url_name == "handoff-reassign" else OTHER_BDR
    client.force_login(world["users"][stranger])
    missing = world["handoff"].pk + 1000

    # The page carries the server's clock, so both answers are rendered at the same instant.
    with time_machine.travel(timezone.now(), tick=False):
        _, theirs = _request(client, url_name, world)
        _, nobody = _request(client, url_name, world, handoff_id=missing)

    assert (theirs.status_code, nobody.status_code) == (404, 404)
    assert _without_csrf(theirs.content) == _without_csrf(nobody.content)


def test_an_htmx_action_by_a_stranger_is_refused_like_a_page(client, world):
    client.force_login(world["users"][OTHER_BDR])
    handoff = world["handoff"]
    before = _snapshot(handoff)

    response = client.post(reverse("handoff-accept", args=[handoff.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 404
    assert _snapshot(handoff) == before


def test_the_team_manager_cannot_accept_on_the_reps_behalf(client, world):
    manager = world["users"][TEAM_MANAGER]
    handoff = world["handoff"]
    client.force_login(manager)

    response = client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert response.status_code == 403
    assert Handoff.objects.get(pk=handoff.pk).state == HandoffState.ASSIGNED
    assert list(HandoffEvent.objects.values_list("kind", "actor_id")) == [("assigned", None)]


def test_the_account_executive_of_the_lead_reads_its_packet_and_cannot_act(client, world):
    executive = world["users"][EXECUTIVE]
    handoff = world["handoff"]
    Lead.objects.filter(pk=handoff.lead_id).update(account_executive=executive)
    client.force_login(executive)

    page = client.get(reverse("handoff-detail", args=[handoff.pk]))
    accept = client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert page.status_code == 200
    assert page.context["can_act"] is False
    assert accept.status_code == 403
    assert Handoff.objects.get(pk=handoff.pk).state == HandoffState.ASSIGNED
