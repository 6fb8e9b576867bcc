from django.db import migrations

# A starting protocol that scores both B2B form leads and the behavioural columns of typical
# marketing-automation exports. RevOps tunes it in the admin; see docs/scoring.md.
FIT_RULES = [
    # name, field, operator, value, points, disqualifier
    ("Senior or buying role", "job_title", "matches",
     r"\b(head|director|vp|vice president|chief|cto|ceo|coo|cfo|founder|owner|manager)\b", 15, False),
    ("Student, intern or job seeker", "job_title", "matches",
     r"\b(student|intern|job seeker|looking for work)\b", -30, True),
    ("Company email address", "email_domain_kind", "equals", "company", 10, False),
    ("Personal email address", "email_domain_kind", "equals", "personal", -5, False),
    ("Disposable email address", "email_domain_kind", "equals", "disposable", -50, True),
    ("Company of 50 to 5,000 employees", "company_size", "between", "50..5000", 10, False),
    ("Asked not to be emailed", "do_not_email", "equals", "yes", -20, False),
    ("Working professional", "attributes.occupation", "equals", "working professional", 30, False),
    ("Came through a lead form", "attributes.lead_origin", "equals", "lead add form", 35, False),
    ("Referred or from a partner site", "source", "one_of", "reference,welingak-website", 20, False),
    ("Spent 15+ minutes on the site", "attributes.time_on_site_seconds", "between",
     "900..1000000", 20, False),
    ("Spent 5-15 minutes on the site", "attributes.time_on_site_seconds", "between",
     "300..899", 8, False),
]  # fmt: skip

BEHAVIOUR_RULES = [
    # name, activity kind, detail contains, points, half-life days, cap
    ("Requested a demo", "demo_request", "", 50, 30, 50),
    ("Visited the pricing page", "page_visit", "/pricing", 20, 14, 30),
    ("Visited the website", "page_visit", "", 2, 14, 12),
    ("Downloaded content", "content_download", "", 10, 30, 20),
    ("Filled in a form", "form_fill", "", 15, 30, 30),
    ("Registered for a webinar", "webinar_registered", "", 5, 30, 10),
    ("Attended a webinar", "webinar_attended", "", 15, 30, 30),
    ("Chatted with us", "chat", "", 5, 14, 10),
    ("Clicked an email", "email_click", "", 3, 14, 9),
    ("Opened an email", "email_open", "", 1, 14, 3),
]  # fmt: skip


def create_rules(apps, schema_editor):
    ScoringRule = apps.get_model("leads", "ScoringRule")
    ScoringSettings = apps.get_model("leads", "ScoringSettings")
    ScoringSettings.objects.get_or_create(pk=1, defaults={"mql_threshold": 50, "fit_minimum": 0})
    if ScoringRule.objects.exists():
        return
    position = 0
    for name, field, operator, value, points, disqualifier in FIT_RULES:
        position += 10
        ScoringRule.objects.create(
            name=name, category="fit", field=field, operator=operator, value=value,
            points=points, disqualifier=disqualifier, position=position,
        )  # fmt: skip
    for name, kind, detail, points, half_life, cap in BEHAVIOUR_RULES:
        position += 10
        ScoringRule.objects.create(
            name=name, category="behaviour", activity_kind=kind, detail_contains=detail,
            points=points, half_life_days=half_life, cap=cap, position=position,
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]

    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
