from django.db import migrations

# The reasons every install starts with; RevOps edits them in the admin.
REASONS = [
    ("not-qualified", "Not qualified", "recycle"),
    ("outside-icp", "Wrong fit / outside our ideal customer profile", "disqualify"),
    ("duplicate", "Duplicate of another lead", "disqualify"),
    ("bad-contact-data", "Bad contact data", "disqualify"),
    ("no-response", "No response after the cadence", "recycle"),
    ("not-now", "Not now: no buying window", "recycle"),
    ("competitor", "Competitor", "disqualify"),
    ("student-or-job-seeker", "Student or job seeker", "disqualify"),
]


def create_reasons(apps, schema_editor):
    RejectionReason = apps.get_model("feedback", "RejectionReason")
    for position, (code, label, outcome) in enumerate(REASONS):
        RejectionReason.objects.get_or_create(
            code=code, defaults={"label": label, "outcome": outcome, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial")]

    operations = [migrations.RunPython(create_reasons, migrations.RunPython.noop)]
