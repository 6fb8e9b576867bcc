"""The file layouts Handoff knows, and how each column maps onto a lead.

A preset names the headers of one layout and says, for each, where the value goes (a lead
field, an `attributes` key, the source) and whether it implies an activity. Headers match
case- and space-insensitively. Columns a preset does not name are reported as ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leads.models import ActivityKind

# How a cell is read. See leads.importing.parsing.
TEXT = "text"
EMAIL = "email"
PHONE = "phone"
INTEGER = "integer"
NUMBER = "number"
YES_NO = "yes_no"
DATE = "date"
COUNT = "count"

# Targets that are not plain lead fields.
SOURCE = "source"
CREATED = "created"
EXTERNAL_ID = "external_id"
ATTRIBUTE_PREFIX = "attributes."

UNKNOWN_LAYOUT = (
    "The columns of this file do not match a known layout ({presets}). A file needs at least "
    "an email column (Email, Email 1) or an id column (External Id, Lead ID, Prospect ID). "
    "Columns found: {found}."
)
UNKNOWN_PRESET = "There is no preset named '{name}'. Choose one of {presets}."
MISSING_COLUMNS = "The '{preset}' layout needs the column {columns}; the file has none of them."
DUPLICATE_COLUMN = "The columns '{first}' and '{second}' both give the lead's {target}."


@dataclass(frozen=True)
class CountActivity:
    """A column holding how many times the lead did something; 0 or blank adds nothing."""

    kind: str
    detail: str = ""


@dataclass(frozen=True)
class FlagActivity:
    """A Yes/No column; Yes adds one activity."""

    kind: str
    detail: str = ""


@dataclass(frozen=True)
class ChoiceActivity:
    """A column naming what the lead did; values not listed add nothing."""

    kinds: dict[str, str]


@dataclass(frozen=True)
class Column:
    target: str | None
    parser: str = TEXT
    activity: CountActivity | FlagActivity | ChoiceActivity | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    columns: dict[str, Column]
    # Headers whose presence identifies the layout.
    signature: frozenset[str]
    # At least one of these must be present for the file to be importable with the preset.
    required: frozenset[str]
    # Columns left out on purpose, with the reason shown in the import report.
    withheld: dict[str, str] = field(default_factory=dict)
    # Whether the external id names one lead (a CRM lead id) rather than, say, an account
    # that several leads share. When it does not, duplicates are found by email only.
    external_id_identifies_lead: bool = True


def normalise_header(header: str) -> str:
    return " ".join(str(header).replace("\ufeff", "").split()).casefold()


# What a "Last Activity" value says the lead did. Values not listed (SMS Sent, Email
# Bounced, Unreachable...) are sales or delivery events, not the lead's behaviour.
LAST_ACTIVITY_KINDS = {
    "email opened": ActivityKind.EMAIL_OPEN,
    "email link clicked": ActivityKind.EMAIL_CLICK,
    "olark chat conversation": ActivityKind.CHAT,
    "page visited on website": ActivityKind.PAGE_VISIT,
    "form submitted on website": ActivityKind.FORM_FILL,
    "converted to lead": ActivityKind.FORM_FILL,
}

# Sources that are themselves a behaviour: the lead came in by doing this. Keyed by the
# source's slug.
SOURCE_ACTIVITIES = {
    "demo-request": (ActivityKind.DEMO_REQUEST, "demo request"),
    "pricing-page-visit": (ActivityKind.PAGE_VISIT, "/pricing"),
    "case-study-download": (ActivityKind.CONTENT_DOWNLOAD, "case study"),
    "newsletter-signup": (ActivityKind.FORM_FILL, "newsletter"),
}

# The sample lead file datablist.com publishes (Faker data, realistic marketing-export shape).
DATABLIST = Preset(
    name="datablist",
    label="datablist sample leads",
    columns={
        "account id": Column(EXTERNAL_ID),
        "first name": Column("first_name"),
        "last name": Column("last_name"),
        "company": Column("company"),
        "phone 1": Column("phone", PHONE),
        "email 1": Column("email", EMAIL),
        "website": Column(ATTRIBUTE_PREFIX + "website"),
        "source": Column(SOURCE),
        "notes": Column("context"),
    },
    signature=frozenset({"account id", "email 1", "phone 1"}),
    required=frozenset({"email 1", "account id"}),
    withheld={
        "lead owner": "the owner in the source CRM is not a Handoff rep",
        "deal stage": "a sales outcome, not known before the handoff",
        "index": "a row counter",
    },
    external_id_identifies_lead=False,
)

# The X Education lead-scoring data set (Kaggle / upGrad): anonymised, with a Converted label.
X_EDUCATION = Preset(
    name="x_education",
    label="X Education leads",
    columns={
        "prospect id": Column(EXTERNAL_ID),
        "lead number": Column(ATTRIBUTE_PREFIX + "lead_number"),
        "lead origin": Column(
            ATTRIBUTE_PREFIX + "lead_origin",
            activity=ChoiceActivity({"lead add form": ActivityKind.FORM_FILL}),
        ),
        "lead source": Column(SOURCE),
        "do not email": Column("do_not_email", YES_NO),
        "do not call": Column("do_not_call", YES_NO),
        # The outcome label, kept so that a report can measure how well the score predicts
        # it. No scoring rule may read it.
        "converted": Column(ATTRIBUTE_PREFIX + "converted", INTEGER),
        "totalvisits": Column(
            ATTRIBUTE_PREFIX + "total_visits",
            NUMBER,
            activity=CountActivity(ActivityKind.PAGE_VISIT, "website"),
        ),
        "total time spent on website": Column(ATTRIBUTE_PREFIX + "time_on_site_seconds", NUMBER),
        "page views per visit": Column(ATTRIBUTE_PREFIX + "page_views_per_visit", NUMBER),
        "last activity": Column(
            ATTRIBUTE_PREFIX + "last_activity", activity=ChoiceActivity(LAST_ACTIVITY_KINDS)
        ),
        "country": Column("country"),
        "city": Column("city"),
        "specialization": Column(ATTRIBUTE_PREFIX + "specialization"),
        "how did you hear about x education": Column(ATTRIBUTE_PREFIX + "heard_from"),
        "what is your current occupation": Column(ATTRIBUTE_PREFIX + "occupation"),
        "what matters most to you in choosing a course": Column(ATTRIBUTE_PREFIX + "what_matters"),
        "a free copy of mastering the interview": Column(
            None,
            YES_NO,
            activity=FlagActivity(ActivityKind.CONTENT_DOWNLOAD, "Mastering The Interview"),
        ),
    },
    signature=frozenset({"prospect id", "lead origin"}),
    required=frozenset({"prospect id"}),
    withheld={
        # Written by sales after contacting the lead: they encode the outcome, so scoring on
        # them would only measure the past.
        "tags": "written by sales after the handoff",
        "lead quality": "written by sales after the handoff",
        "lead profile": "written by sales after the handoff",
        "last notable activity": "written after the handoff",
        "asymmetrique activity index": "written after the handoff",
        "asymmetrique profile index": "written after the handoff",
        "asymmetrique activity score": "written after the handoff",
        "asymmetrique profile score": "written after the handoff",
    },
)

# Handoff's own layout (what the demo generator and the admin export write), with the
# headers of a Salesforce lead export accepted as aliases.
HANDOFF = Preset(
    name="handoff",
    label="Handoff / Salesforce lead export",
    columns={
        "external id": Column(EXTERNAL_ID),
        "lead id": Column(EXTERNAL_ID),
        "first name": Column("first_name"),
        "last name": Column("last_name"),
        "email": Column("email", EMAIL),
        "email address": Column("email", EMAIL),
        "phone": Column("phone", PHONE),
        "company": Column("company"),
        "title": Column("job_title"),
        "job title": Column("job_title"),
        "industry": Column("industry"),
        "employees": Column("company_size", INTEGER),
        "no. of employees": Column("company_size", INTEGER),
        "number of employees": Column("company_size", INTEGER),
        "country": Column("country"),
        "city": Column("city"),
        "lead source": Column(SOURCE),
        "source": Column(SOURCE),
        "campaign": Column("campaign"),
        "campaign name": Column("campaign"),
        "created date": Column(CREATED, DATE),
        "do not email": Column("do_not_email", YES_NO),
        "email opt out": Column("do_not_email", YES_NO),
        "do not call": Column("do_not_call", YES_NO),
        "notes": Column("context"),
        "description": Column("context"),
        # Activity columns: what the lead did, as counts or Yes/No.
        "demo requested": Column(
            None, YES_NO, activity=FlagActivity(ActivityKind.DEMO_REQUEST, "demo request")
        ),
        "pricing page visits": Column(
            None, COUNT, activity=CountActivity(ActivityKind.PAGE_VISIT, "/pricing")
        ),
        "website visits": Column(
            None, COUNT, activity=CountActivity(ActivityKind.PAGE_VISIT, "website")
        ),
        "content downloads": Column(
            None, COUNT, activity=CountActivity(ActivityKind.CONTENT_DOWNLOAD, "content")
        ),
        "form fills": Column(None, COUNT, activity=CountActivity(ActivityKind.FORM_FILL)),
        "webinar registered": Column(
            None, YES_NO, activity=FlagActivity(ActivityKind.WEBINAR_REGISTERED)
        ),
        "webinar attended": Column(
            None, YES_NO, activity=FlagActivity(ActivityKind.WEBINAR_ATTENDED)
        ),
        "email opens": Column(None, COUNT, activity=CountActivity(ActivityKind.EMAIL_OPEN)),
        "email clicks": Column(None, COUNT, activity=CountActivity(ActivityKind.EMAIL_CLICK)),
        "chats": Column(None, COUNT, activity=CountActivity(ActivityKind.CHAT)),
        "last activity": Column(
            ATTRIBUTE_PREFIX + "last_activity", activity=ChoiceActivity(LAST_ACTIVITY_KINDS)
        ),
    },
    signature=frozenset({"email", "email address", "external id", "lead id"}),
    required=frozenset({"email", "email address", "external id", "lead id"}),
    withheld={
        "stage": "stages change only through the handoff workflow",
        "lead status": "stages change only through the handoff workflow",
        "score": "Handoff computes the score itself",
    },
)

# Detection order: the specific layouts first, the general one last.
PRESETS = {preset.name: preset for preset in (DATABLIST, X_EDUCATION, HANDOFF)}


class LayoutRefused(Exception):
    """The headers do not fit any preset, or the chosen one."""


@dataclass(frozen=True)
class Mapping:
    """Which column of the file feeds what, once the preset is known."""

    preset: Preset
    # (column index, header as written, column spec), in file order.
    columns: list[tuple[int, str, Column]]
    # Headers the import leaves out, each with why.
    ignored: list[tuple[str, str]]
    width: int


def preset_detect(headers: list[str]) -> Preset:
    names = {normalise_header(header) for header in headers if str(header).strip()}
    for preset in PRESETS.values():
        if preset is HANDOFF:
            continue
        if preset.signature <= names:
            return preset
    if names & HANDOFF.required:
        return HANDOFF
    raise LayoutRefused(
        UNKNOWN_LAYOUT.format(
            presets=", ".join(PRESETS),
            found=", ".join(f"'{header}'" for header in headers if str(header).strip()) or "none",
        )
    )


def mapping_for(headers: list[str], *, preset_name: str | None = None) -> Mapping:
    """Map each header of the file onto the preset (named, or detected from the headers).

    Blank header names are skipped: a trailing delimiter on every line (an Excel re-save)
    leaves one behind.
    """
    if preset_name:
        if preset_name not in PRESETS:
            raise LayoutRefused(UNKNOWN_PRESET.format(name=preset_name, presets=", ".join(PRESETS)))
        preset = PRESETS[preset_name]
    else:
        preset = preset_detect(headers)

    columns: list[tuple[int, str, Column]] = []
    ignored: list[tuple[str, str]] = []
    seen_targets: dict[str, str] = {}
    for index, header in enumerate(headers):
        name = normalise_header(header)
        if not name:
            continue
        column = preset.columns.get(name)
        if column is None:
            ignored.append((str(header), preset.withheld.get(name, "not a column Handoff reads")))
            continue
        key = column.target or f"activity:{name}"
        if key in seen_targets:
            raise LayoutRefused(
                DUPLICATE_COLUMN.format(
                    first=seen_targets[key], second=header, target=_target_label(key)
                )
            )
        seen_targets[key] = str(header)
        columns.append((index, str(header), column))

    present = {normalise_header(header) for header in headers}
    if not preset.required & present:
        raise LayoutRefused(
            MISSING_COLUMNS.format(
                preset=preset.name,
                columns=" or ".join(f"'{name.title()}'" for name in sorted(preset.required)),
            )
        )
    return Mapping(preset=preset, columns=columns, ignored=ignored, width=len(headers))


def _target_label(target: str) -> str:
    if target.startswith(ATTRIBUTE_PREFIX):
        return target.removeprefix(ATTRIBUTE_PREFIX).replace("_", " ")
    return target.replace("_", " ")
