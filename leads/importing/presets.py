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
JSON_OBJECT = "json_object"

# Targets that are not plain lead fields.
SOURCE = "source"
CREATED = "created"
EXTERNAL_ID = "external_id"
ATTRIBUTE_PREFIX = "attributes."
# A JSON object of attributes in one cell: how Handoff's export writes them.
ATTRIBUTES = "attributes"
# A custom mapping sends a column here to leave it out.
IGNORE = "ignore"

UNKNOWN_TARGET = (
    "'{target}' is not somewhere a column can go. Use one of {targets}, attributes.<name> "
    "or ignore."
)
BLANK_HEADER = "A column of the mapping has no header name."
BAD_DATE_FORMAT = "'{value}' is not a date format: write it with strftime codes, e.g. %d/%m/%Y."
UNKNOWN_LAYOUT = (
    "The columns of this file do not match a known layout ({presets}). A file needs at least "
    "an email column (Email, Email 1) or an id column (External Id, Lead ID, Record ID, "
    "Prospect ID), or a saved mapping for its source. Columns found: {found}."
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
    # Sets of headers whose presence identifies the layout; any one set is enough.
    signatures: tuple[frozenset[str], ...]
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
    signatures=(frozenset({"account id", "email 1", "phone 1"}),),
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
    signatures=(frozenset({"prospect id", "lead origin"}),),
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
        "attributes": Column(ATTRIBUTES, JSON_OBJECT),
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
    signatures=(),
    required=frozenset({"email", "email address", "external id", "lead id"}),
    withheld={
        "stage": "stages change only through the handoff workflow",
        "lead status": "stages change only through the handoff workflow",
        "score": "Handoff computes the score itself",
    },
)

# A Salesforce lead export (list view, report or Data Loader) with the standard lead fields.
SALESFORCE = Preset(
    name="salesforce",
    label="Salesforce lead export",
    columns={
        "lead id": Column(EXTERNAL_ID),
        "first name": Column("first_name"),
        "last name": Column("last_name"),
        "title": Column("job_title"),
        "company": Column("company"),
        "email": Column("email", EMAIL),
        "phone": Column("phone", PHONE),
        "mobile": Column(ATTRIBUTE_PREFIX + "mobile", PHONE),
        "lead source": Column(SOURCE),
        "industry": Column("industry"),
        "no. of employees": Column("company_size", INTEGER),
        "annual revenue": Column(ATTRIBUTE_PREFIX + "annual_revenue", NUMBER),
        "country": Column("country"),
        "state/province": Column(ATTRIBUTE_PREFIX + "state"),
        "city": Column("city"),
        "email opt out": Column("do_not_email", YES_NO),
        "do not call": Column("do_not_call", YES_NO),
        "created date": Column(CREATED, DATE),
        "website": Column(ATTRIBUTE_PREFIX + "website"),
        "description": Column("context"),
        "rating": Column(ATTRIBUTE_PREFIX + "rating"),
        "campaign": Column("campaign"),
        "campaign name": Column("campaign"),
    },
    signatures=(frozenset({"lead id"}), frozenset({"lead status"}), frozenset({"state/province"})),
    required=frozenset({"email", "lead id"}),
    withheld={
        "lead status": "the CRM's status; stages change only through the handoff workflow",
        "lead owner": "the owner in the CRM is not a Handoff rep",
        "converted": "a sales outcome, not known before the handoff",
    },
)

# A HubSpot contacts export with the default contact properties.
HUBSPOT = Preset(
    name="hubspot",
    label="HubSpot contact export",
    columns={
        "record id": Column(EXTERNAL_ID),
        "first name": Column("first_name"),
        "last name": Column("last_name"),
        "email": Column("email", EMAIL),
        "phone number": Column("phone", PHONE),
        "mobile phone number": Column(ATTRIBUTE_PREFIX + "mobile", PHONE),
        "company name": Column("company"),
        "job title": Column("job_title"),
        "industry": Column("industry"),
        "number of employees": Column("company_size", INTEGER),
        "annual revenue": Column(ATTRIBUTE_PREFIX + "annual_revenue", NUMBER),
        "country/region": Column("country"),
        "state/region": Column(ATTRIBUTE_PREFIX + "state"),
        "city": Column("city"),
        "original source": Column(SOURCE),
        "create date": Column(CREATED, DATE),
        "website url": Column(ATTRIBUTE_PREFIX + "website"),
    },
    signatures=(
        frozenset({"record id"}),
        frozenset({"lifecycle stage"}),
        frozenset({"original source"}),
        frozenset({"country/region"}),
    ),
    required=frozenset({"email", "record id"}),
    withheld={
        "lifecycle stage": "stages change only through the handoff workflow",
        "lead status": "the CRM's status; stages change only through the handoff workflow",
        "contact owner": "the owner in the CRM is not a Handoff rep",
        "hubspot score": "Handoff computes the score itself",
    },
)

# Detection order: the specific layouts first, the general one last.
PRESETS = {preset.name: preset for preset in (DATABLIST, X_EDUCATION, SALESFORCE, HUBSPOT, HANDOFF)}

# Lead fields a custom mapping may send a column to, and how each is read.
MAPPABLE_FIELDS = {
    "email": EMAIL,
    "first_name": TEXT,
    "last_name": TEXT,
    "phone": PHONE,
    "company": TEXT,
    "job_title": TEXT,
    "industry": TEXT,
    "company_size": INTEGER,
    "country": TEXT,
    "city": TEXT,
    "campaign": TEXT,
    "context": TEXT,
    "do_not_email": YES_NO,
    "do_not_call": YES_NO,
    EXTERNAL_ID: TEXT,
    SOURCE: TEXT,
    CREATED: DATE,
}


class LayoutRefused(Exception):
    """The headers do not fit any preset, or the chosen one."""


# Compared by identity, so that readers compiled for a mapping can be cached on it.
@dataclass(frozen=True, eq=False)
class Mapping:
    """Which column of the file feeds what, once the preset is known."""

    preset: Preset
    # (column index, header as written, column spec), in file order.
    columns: list[tuple[int, str, Column]]
    # Headers the import leaves out, each with why.
    ignored: list[tuple[str, str]]
    width: int
    # Date formats the file may use besides ISO 8601 (declared by the user or the source).
    date_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomMapping:
    """A source's saved mapping: a layout, columns of its own, and a date format."""

    preset: str = ""
    # Normalised header -> target.
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str = ""

    @classmethod
    def from_saved(cls, *, preset: str, columns: dict, date_format: str) -> CustomMapping:
        return cls(
            preset=preset,
            columns={normalise_header(header): str(target) for header, target in columns.items()},
            date_format=date_format,
        )


def custom_column(target: str) -> Column | None:
    """The column spec a custom mapping's target stands for; None for 'ignore'."""
    if target == IGNORE:
        return None
    if target.startswith(ATTRIBUTE_PREFIX):
        return Column(target)
    return Column(target, MAPPABLE_FIELDS[target])


def custom_mapping_errors(*, preset: str, columns: object, date_format: str) -> dict[str, str]:
    """Field by field, what is wrong with a mapping an admin wants to save."""
    errors: dict[str, str] = {}
    if preset and preset not in PRESETS:
        errors["preset"] = UNKNOWN_PRESET.format(name=preset, presets=", ".join(PRESETS))
    if not isinstance(columns, dict):
        errors["columns"] = 'Write the columns as a JSON object: {"Header": "field", ...}.'
    else:
        for header, target in columns.items():
            if not normalise_header(header):
                errors["columns"] = BLANK_HEADER
                break
            target = str(target)
            attribute = target.removeprefix(ATTRIBUTE_PREFIX)
            valid = (
                target in MAPPABLE_FIELDS
                or target == IGNORE
                or (target.startswith(ATTRIBUTE_PREFIX) and attribute.strip() == attribute != "")
            )
            if not valid:
                errors["columns"] = UNKNOWN_TARGET.format(
                    target=target, targets=", ".join(MAPPABLE_FIELDS)
                )
                break
    if date_format and not date_format_valid(date_format):
        errors["date_format"] = BAD_DATE_FORMAT.format(value=date_format)
    return errors


def date_format_valid(date_format: str) -> bool:
    """Whether a strptime format reads back a date it wrote: it must name a day."""
    from datetime import datetime

    sample = datetime(2024, 3, 31, 14, 5)  # noqa: DTZ001 - only the format is tested
    try:
        return datetime.strptime(sample.strftime(date_format), date_format).date() == sample.date()  # noqa: DTZ007
    except ValueError:
        return False


def preset_detect(headers: list[str], *, extra: frozenset[str] = frozenset()) -> Preset:
    """The layout the headers follow. `extra` are headers a custom mapping reads, which make
    a file importable with the general layout even when no preset names them."""
    names = {normalise_header(header) for header in headers if str(header).strip()}
    for preset in PRESETS.values():
        if preset is HANDOFF:
            continue
        if any(signature <= names for signature in preset.signatures):
            return preset
    if names & HANDOFF.required or names & extra:
        return HANDOFF
    raise LayoutRefused(
        UNKNOWN_LAYOUT.format(
            presets=", ".join(PRESETS),
            found=", ".join(f"'{header}'" for header in headers if str(header).strip()) or "none",
        )
    )


def mapping_for(
    headers: list[str],
    *,
    preset_name: str | None = None,
    custom: CustomMapping | None = None,
    date_formats: tuple[str, ...] = (),
) -> Mapping:
    """Map each header of the file onto the preset (named, or detected from the headers),
    with a source's custom mapping taking precedence column by column.

    Blank header names are skipped: a trailing delimiter on every line (an Excel re-save)
    leaves one behind.
    """
    custom = custom or CustomMapping()
    preset_name = preset_name or custom.preset
    if preset_name:
        if preset_name not in PRESETS:
            raise LayoutRefused(UNKNOWN_PRESET.format(name=preset_name, presets=", ".join(PRESETS)))
        preset = PRESETS[preset_name]
    else:
        identifying = frozenset(
            header for header, target in custom.columns.items() if target in ("email", EXTERNAL_ID)
        )
        preset = preset_detect(headers, extra=identifying)

    columns: list[tuple[int, str, Column]] = []
    ignored: list[tuple[str, str]] = []
    seen_targets: dict[str, str] = {}
    for index, header in enumerate(headers):
        name = normalise_header(header)
        if not name:
            continue
        if name in custom.columns:
            column = custom_column(custom.columns[name])
            if column is None:
                ignored.append((str(header), "left out by the source's mapping"))
                continue
        else:
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

    if not {"email", EXTERNAL_ID} & set(seen_targets):
        raise LayoutRefused(
            MISSING_COLUMNS.format(
                preset=preset.name,
                columns=" or ".join(f"'{name.title()}'" for name in sorted(preset.required)),
            )
        )
    formats = tuple(dict.fromkeys((*date_formats, *filter(None, [custom.date_format]))))
    return Mapping(
        preset=preset, columns=columns, ignored=ignored, width=len(headers), date_formats=formats
    )


def _target_label(target: str) -> str:
    if target.startswith(ATTRIBUTE_PREFIX):
        return target.removeprefix(ATTRIBUTE_PREFIX).replace("_", " ")
    return target.replace("_", " ")
