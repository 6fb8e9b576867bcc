"""What a scoring rule may say, and how a fit rule tests one lead.

Shared by the admin (a rule is checked before it is saved) and the scoring engine (the same
parsing decides whether a lead matches), so that a rule the admin accepts always scores.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import re2
from django.db import models

if TYPE_CHECKING:
    from leads.models import Lead, ScoringRule
    from leads.scoring import LeadFacts

# Personal webmail: a lead writing from one of these is less likely to buy for a company.
PERSONAL_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
        "aol.com", "icloud.com", "me.com", "gmx.com", "gmx.de", "proton.me", "protonmail.com",
        "mail.com", "yandex.com", "yandex.ru", "qq.com", "163.com",
    }
)  # fmt: skip
DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com",
        "trashmail.com", "yopmail.com", "sharklasers.com", "getnada.com", "dispostable.com",
    }
)  # fmt: skip

# Lead fields a fit rule may test, besides `attributes.<key>`.
FIT_FIELDS = frozenset(
    {
        "job_title", "industry", "company_size", "country", "city", "company", "campaign",
        "source", "email_domain", "email_domain_kind", "do_not_email", "do_not_call",
        "do_not_contact", "existing_customer",
    }
)  # fmt: skip
NUMERIC_FIELDS = frozenset({"company_size"})
# Attributes that record what happened after the handoff, kept to measure the rules against
# (scoring_report). A rule that read them would score leads on their outcome.
OUTCOME_ATTRIBUTES = frozenset({"converted"})


class Operator(models.TextChoices):
    EQUALS = "equals", "equals"
    ONE_OF = "one_of", "is one of"
    CONTAINS = "contains", "contains"
    BETWEEN = "between", "is between"
    MATCHES = "matches", "matches the pattern"


def email_domain_kind(domain: str) -> str:
    if not domain:
        return ""
    if domain in DISPOSABLE_EMAIL_DOMAINS:
        return "disposable"
    if domain in PERSONAL_EMAIL_DOMAINS:
        return "personal"
    return "company"


def lead_value(lead: Lead | LeadFacts, field: str) -> Any:
    """The value a fit rule sees for `field`; text is compared case-insensitively."""
    if field.startswith("attributes."):
        return (lead.attributes or {}).get(field.partition(".")[2], "")
    if field == "source":
        return lead.source_slug
    if field == "email_domain":
        return lead.email_domain
    if field == "email_domain_kind":
        return email_domain_kind(lead.email_domain)
    if field == "do_not_contact":
        return lead.do_not_email and lead.do_not_call
    return getattr(lead, field)


def parse_between(value: str) -> tuple[Decimal, Decimal]:
    low, separator, high = value.partition("..")
    if not separator:
        raise ValueError(f"'{value}' is not a range; write it as low..high, e.g. 50..200")
    try:
        bounds = Decimal(low.strip()), Decimal(high.strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a range of two numbers, e.g. 50..200") from None
    if bounds[0] > bounds[1]:
        raise ValueError(f"'{value}' has its low bound above its high bound")
    return bounds


def split_choices(value: str) -> list[str]:
    return [choice.strip().casefold() for choice in value.split(",") if choice.strip()]


def _as_number(raw: Any) -> Decimal | None:
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return None


def _as_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    return str(raw).strip().casefold()


def fit_test(*, operator: str, value: str) -> Callable[[Any], bool]:
    """Compile a fit rule into a test of one lead value. An empty value never matches.

    Parsing happens once here, so that scoring many leads does not re-read the rule.
    """
    if operator == Operator.BETWEEN:
        low, high = parse_between(value)

        def in_range(raw: Any) -> bool:
            number = _as_number(raw)
            return number is not None and low <= number <= high

        return in_range
    if operator == Operator.EQUALS:
        expected = value.strip().casefold()
        return lambda raw: _as_text(raw) == expected if raw not in (None, "") else False
    if operator == Operator.ONE_OF:
        choices = frozenset(split_choices(value))
        return lambda raw: _as_text(raw) in choices if raw not in (None, "") else False
    if operator == Operator.CONTAINS:
        needle = value.strip().casefold()
        return lambda raw: bool(raw not in (None, "") and needle in _as_text(raw))
    if operator == Operator.MATCHES:
        pattern = compile_pattern(value)
        return lambda raw: bool(raw not in (None, "") and pattern.search(_as_text(raw)))
    raise ValueError(f"unknown operator '{operator}'")


def compile_pattern(value: str) -> re2._Regexp:
    """A rule's pattern, case-insensitive, compiled by RE2.

    RE2 matches in time linear in the text, so no pattern RevOps saves can stall an import or
    a rescoring pass on a long value, as a backtracking engine can on `(a+)+$`. It refuses
    what needs backtracking (back-references, look-around), and that refusal is the message
    the admin shows.
    """
    options = re2.Options()
    options.case_sensitive = False
    # The admin shows the error; RE2's own log line on stderr would only repeat it.
    options.log_errors = False
    return re2.compile(value, options)


def fit_matches(*, operator: str, value: str, raw: Any) -> bool:
    """Whether one lead value satisfies a fit rule."""
    return fit_test(operator=operator, value=value)(raw)


def rule_errors(rule: ScoringRule) -> dict[str, str]:
    """Field-by-field reasons a rule cannot be saved; empty when it is sound."""
    from leads.models import RuleCategory

    errors: dict[str, str] = {}
    label = f"Rule '{rule.name}'"
    if rule.category == RuleCategory.FIT:
        if not rule.field:
            errors["field"] = f"{label} needs a lead field to test."
        elif not (rule.field in FIT_FIELDS or _is_attribute(rule.field)):
            errors["field"] = (
                f"{label} names the unknown field '{rule.field}'. Use one of "
                f"{', '.join(sorted(FIT_FIELDS))}, or attributes.<column>."
            )
        elif rule.field.partition(".")[2].lower() in OUTCOME_ATTRIBUTES:
            errors["field"] = (
                f"{label} tests '{rule.field}', an outcome known only after the handoff: it "
                "measures the rules (scoring_report) and cannot be one of them."
            )
        if not rule.operator:
            errors["operator"] = f"{label} needs an operator."
        elif not rule.value.strip():
            errors["value"] = f"{label} needs a value to compare with."
        elif rule.operator == Operator.BETWEEN:
            try:
                parse_between(rule.value)
            except ValueError as error:
                errors["value"] = f"{label}: {error}."
        elif rule.operator == Operator.MATCHES:
            try:
                compile_pattern(rule.value)
            except re2.error as error:
                reason = error.args[0] if error.args else error
                if isinstance(reason, bytes):
                    reason = reason.decode(errors="replace")
                errors["value"] = f"{label}: '{rule.value}' is not a valid pattern ({reason})."
        elif (
            rule.field in NUMERIC_FIELDS
            and rule.operator != Operator.ONE_OF
            and _as_number(rule.value) is None
        ):
            errors["value"] = f"{label}: '{rule.value}' is not a number."
    elif rule.category == RuleCategory.BEHAVIOUR:
        if not rule.activity_kind:
            errors["activity_kind"] = f"{label} needs the kind of activity it counts."
        if rule.half_life_days == 0:
            errors["half_life_days"] = f"{label}: a half-life must be at least one day."
        if rule.window_days == 0:
            errors["window_days"] = f"{label}: a window must be at least one day."
    else:
        errors["category"] = f"{label} has the unknown category '{rule.category}'."
    return errors


def _is_attribute(field: str) -> bool:
    prefix, _, key = field.partition(".")
    return prefix == "attributes" and bool(key.strip())
