from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower, StrIndex, Substr, Upper
from django_fsm import FSMField, FSMModelMixin, transition

from leads import criteria

# The largest value a PositiveIntegerField holds on every database Django supports; a bigger
# one fails the write itself, after checks that said the value was fine.
POSITIVE_INTEGER_MAX = 2_147_483_647
# The largest employers have about two million staff, so a bigger company size is a typo or a
# pasted identifier rather than a headcount. Imports and the inbound API both refuse it.
COMPANY_SIZE_MAX = 10_000_000


def email_domain_expression(field: str = "email") -> Lower:
    """The part of an email after its first "@", lowercased, as SQL that the lead_email_domain
    index serves. Routing finds the other leads of an account by it."""
    return Lower(Substr(field, StrIndex(field, models.Value("@")) + 1))


class Source(models.Model):
    """Where a lead came from: a demo request form, a pricing-page visit, a content download."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.TextChoices):
    LEAD = "lead", "Lead"
    MQL = "mql", "MQL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    REJECTED = "rejected", "Rejected"
    RECYCLED = "recycled", "Recycled to nurture"
    DISQUALIFIED = "disqualified", "Disqualified"


class BantStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    CONFIRMED = "confirmed", "Confirmed"
    NOT_MET = "not_met", "Not met"


BANT_PARTS = ("budget", "authority", "need", "timeline")


def bant_missing(lead: "Lead") -> list[str]:
    """The parts of the SQL criteria a lead does not meet yet, in the order sales reads them."""
    missing = [
        part for part in BANT_PARTS if getattr(lead, f"{part}_status") != BantStatus.CONFIRMED
    ]
    if not lead.ready_for_demo:
        missing.append("ready for a demo or proposal")
    return missing


def bant_complete(lead: "Lead") -> bool:
    return not bant_missing(lead)


class LeadQuerySet(models.QuerySet):
    def in_stage(self, *stages: str) -> "LeadQuerySet":
        return self.filter(stage__in=stages)


class Lead(FSMModelMixin, models.Model):
    # Identity, as the source system knows the lead.
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    # The email as a person is identified by it: lowercased and trimmed, and for Gmail without
    # dots or a +tag (see leads.importing.canonical). Duplicates are found on it, and a unique
    # constraint backs it, so that two imports running at once cannot create one lead twice.
    canonical_email = models.CharField(max_length=254, blank=True, default="", editable=False)
    # Phone numbers are text: "+44 20 ..." and leading zeros must survive.
    phone = models.CharField(max_length=50, blank=True)

    # Fit: who the lead is.
    company = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    # Columns a source file carries that have no field of their own (occupation,
    # specialisation...). Fit rules can read them as `attributes.<key>`.
    attributes = models.JSONField(default=dict, blank=True)

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT)
    campaign = models.CharField(max_length=200, blank=True)
    do_not_email = models.BooleanField(default=False)
    do_not_call = models.BooleanField(default=False)

    stage = FSMField(choices=Stage.choices, default=Stage.LEAD, protected=True, db_index=True)
    # How many times the lead has become MQL; a recycled lead may qualify one more time.
    mql_count = models.PositiveSmallIntegerField(default=0)
    mql_at = models.DateTimeField(null=True, blank=True)

    # The latest score and where every point came from.
    score = models.IntegerField(default=0)
    fit_score = models.IntegerField(default=0)
    engagement_score = models.IntegerField(default=0)
    score_breakdown = models.JSONField(default=list, blank=True)
    disqualified_by = models.CharField(max_length=200, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    # The handoff packet: what the next person needs to know.
    pain = models.TextField(blank=True)
    context = models.TextField(blank=True)
    budget_status = models.CharField(
        max_length=10, choices=BantStatus.choices, default=BantStatus.UNKNOWN
    )
    budget_note = models.CharField(max_length=500, blank=True)
    authority_status = models.CharField(
        max_length=10, choices=BantStatus.choices, default=BantStatus.UNKNOWN
    )
    authority_note = models.CharField(max_length=500, blank=True)
    need_status = models.CharField(
        max_length=10, choices=BantStatus.choices, default=BantStatus.UNKNOWN
    )
    need_note = models.CharField(max_length=500, blank=True)
    timeline_status = models.CharField(
        max_length=10, choices=BantStatus.choices, default=BantStatus.UNKNOWN
    )
    timeline_note = models.CharField(max_length=500, blank=True)
    ready_for_demo = models.BooleanField(default=False)
    # Who took the lead on once it became an opportunity.
    account_executive = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["source", "stage"]),
            models.Index(fields=["created_at"]),
            # Imports find leads that have no canonical email (made before it existed, or by
            # a path that does not set it) by their email in any case.
            models.Index(
                Lower("email"),
                condition=models.Q(canonical_email=""),
                name="lead_email_uncanonical",
            ),
            # Routing looks for the rep who already works a lead's account at every
            # assignment: by email domain and by company name (reps.selectors.account_owner_for).
            models.Index(email_domain_expression(), name="lead_email_domain"),
            models.Index(Upper("company"), name="lead_company_upper"),
        ]
        constraints = [
            # One lead per person. Empty values are left out: leads without an email, and
            # leads that already shared an address when the rule came in (the migration keeps
            # the oldest of each such group; docs/importing.md explains).
            models.UniqueConstraint(
                fields=["canonical_email"],
                condition=~models.Q(canonical_email=""),
                name="lead_unique_canonical_email",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.company or self.external_id or f"Lead {self.pk}"

    @property
    def source_slug(self) -> str:
        return self.source.slug if self.source_id else ""

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2].lower() if "@" in self.email else ""

    # Transitions change the stage in memory only; services in leads.services lock the row,
    # call them, save and write the event row.

    @transition(field=stage, source=[Stage.LEAD, Stage.RECYCLED], target=Stage.MQL)
    def qualify_mql(self) -> None:
        pass

    @transition(field=stage, source=Stage.MQL, target=Stage.SQL, conditions=[bant_complete])
    def qualify_sql(self) -> None:
        pass

    @transition(field=stage, source=Stage.SQL, target=Stage.OPPORTUNITY)
    def open_opportunity(self) -> None:
        pass

    @transition(field=stage, source=Stage.OPPORTUNITY, target=Stage.CUSTOMER)
    def win(self) -> None:
        pass

    @transition(field=stage, source=[Stage.MQL, Stage.SQL], target=Stage.REJECTED)
    def reject(self) -> None:
        pass

    @transition(field=stage, source=Stage.REJECTED, target=Stage.RECYCLED)
    def recycle(self) -> None:
        pass

    @transition(
        field=stage,
        source=[Stage.LEAD, Stage.REJECTED, Stage.RECYCLED],
        target=Stage.DISQUALIFIED,
    )
    def disqualify(self) -> None:
        pass


class LeadEvent(models.Model):
    """One stage change: who made it (empty for the system), from where to where, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} -> {self.to_stage}"


class ActivityKind(models.TextChoices):
    FORM_FILL = "form_fill", "Form fill"
    DEMO_REQUEST = "demo_request", "Demo request"
    CONTENT_DOWNLOAD = "content_download", "Content download"
    PAGE_VISIT = "page_visit", "Page visit"
    WEBINAR_REGISTERED = "webinar_registered", "Webinar registered"
    WEBINAR_ATTENDED = "webinar_attended", "Webinar attended"
    CHAT = "chat", "Chat"
    EMAIL_OPEN = "email_open", "Email opened"
    EMAIL_CLICK = "email_click", "Email click"
    OTHER = "other", "Other"


class Activity(models.Model):
    """Something the lead did. `quantity` folds repeated visits into one row."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=30, choices=ActivityKind.choices)
    detail = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["lead", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.quantity})"


class RuleCategory(models.TextChoices):
    FIT = "fit", "Fit (who the lead is)"
    BEHAVIOUR = "behaviour", "Behaviour (what the lead did)"


class ScoringRule(models.Model):
    """One MQL criterion. Fit rules test a lead field; behaviour rules count activities."""

    name = models.CharField(max_length=200)
    category = models.CharField(max_length=10, choices=RuleCategory.choices)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    points = models.IntegerField(help_text="Negative points lower the score.")
    disqualifier = models.BooleanField(
        default=False, help_text="A lead that matches can never become MQL, whatever its score."
    )

    # Fit rules.
    field = models.CharField(
        max_length=100,
        blank=True,
        help_text="A lead field such as job_title, or attributes.<column> for imported extras.",
    )
    operator = models.CharField(max_length=10, choices=criteria.Operator.choices, blank=True)
    value = models.CharField(
        max_length=500,
        blank=True,
        help_text="one_of: comma-separated; between: low..high; matches: a regular expression.",
    )

    # Behaviour rules.
    activity_kind = models.CharField(max_length=30, choices=ActivityKind.choices, blank=True)
    detail_contains = models.CharField(max_length=200, blank=True)
    half_life_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Points halve every this many days."
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only activities this recent count."
    )
    cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="The most points this rule can give one lead."
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = criteria.rule_errors(self)
        if errors:
            raise ValidationError(errors)


class ScoringSettings(models.Model):
    """The MQL threshold. There is one row; `current()` creates it with defaults."""

    mql_threshold = models.IntegerField(default=50, validators=[MinValueValidator(1)])
    fit_minimum = models.IntegerField(
        default=0,
        validators=[MinValueValidator(0)],
        help_text="The fit score a lead needs on top of the threshold.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "scoring settings"

    def __str__(self) -> str:
        return f"MQL at {self.mql_threshold} points, fit at least {self.fit_minimum}"

    def clean(self) -> None:
        # Fit counts toward the total, so a fit minimum above the threshold would silently
        # become the real threshold. A threshold out of bounds has its own message already.
        if self.mql_threshold >= 1 and self.fit_minimum > self.mql_threshold:
            raise ValidationError(
                {
                    "fit_minimum": f"The fit minimum ({self.fit_minimum}) cannot be above the MQL "
                    f"threshold ({self.mql_threshold}): raise the threshold instead."
                }
            )

    @classmethod
    def current(cls) -> "ScoringSettings":
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


class SourceToken(models.Model):
    """A secret that lets one source (a website form, a webinar tool) post activities.

    Only a hash is stored; the token itself is shown once, when it is created.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source}: {self.label or 'token'}"


class InboundRequest(models.Model):
    """The answer given to one idempotency key, replayed when the sender retries."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    lead = models.ForeignKey(Lead, null=True, on_delete=models.SET_NULL, related_name="+")
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="one_request_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.key}"


class ImportMapping(models.Model):
    """How the files of one source are read: the layout they follow and any columns that
    layout does not name. Chosen on the upload page by choosing the source."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="import_mapping")
    preset = models.CharField(
        max_length=30,
        blank=True,
        help_text="The layout the files follow (salesforce, hubspot...); detected when empty.",
    )
    columns = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Header as written, then where it goes: {"E-mail Address": "email", '
            '"Region": "attributes.region", "Owner": "ignore"}. Overrides the layout.'
        ),
    )
    date_format = models.CharField(
        max_length=50,
        blank=True,
        help_text="A date format the files use besides ISO 8601, e.g. %d/%m/%Y.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Import mapping for {self.source}"

    def clean(self) -> None:
        from leads.importing.presets import custom_mapping_errors

        errors = custom_mapping_errors(
            preset=self.preset, columns=self.columns, date_format=self.date_format
        )
        if errors:
            raise ValidationError(errors)


class ImportJobStatus(models.TextChoices):
    CHECKING = "checking", "Checking the file"
    CHECKED = "checked", "Checked: waiting for confirmation"
    REFUSED = "refused", "Refused: the file has errors"
    QUEUED = "queued", "Confirmed: waiting for a worker"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed: nothing was imported"


class ImportJob(models.Model):
    """One uploaded lead file: checked in a dry run, then imported once confirmed.

    Both runs happen in a worker; the page polls `status`, `rows_done` and `rows_total`.
    """

    status = models.CharField(
        max_length=10,
        choices=ImportJobStatus.choices,
        default=ImportJobStatus.CHECKING,
        db_index=True,
    )
    # Relative to the import folder (settings.LEAD_IMPORT_DIR, by default var/imports).
    file_path = models.CharField(max_length=300)
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    source = models.ForeignKey(
        Source,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
        help_text="Rows without a source get this one, and its saved mapping reads the file.",
    )
    preset = models.CharField(max_length=30, blank=True)
    date_format = models.CharField(max_length=50, blank=True)
    # Whether rows with errors are left out rather than refusing the whole file.
    skip_invalid_rows = models.BooleanField(default=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # What the file turned out to be.
    layout = models.CharField(max_length=30, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)

    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    # When the worker last reported progress: a job that stops reporting was lost with its
    # worker, and its redelivered task may start it again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The dry run's counts, then the import's: new, matched, updated, merged, skipped...
    check_counts = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    # The first errors found, each {"row", "column", "message"}; errors_total counts them all.
    errors = models.JSONField(default=list, blank=True)
    errors_total = models.PositiveIntegerField(default=0)
    ignored_columns = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in (
            ImportJobStatus.CHECKING,
            ImportJobStatus.QUEUED,
            ImportJobStatus.IMPORTING,
        )
