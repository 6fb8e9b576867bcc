from django.db import migrations

# Two disqualifiers every B2B protocol needs: a lead nobody may contact, and a lead from a
# company that is already a customer (account management owns it, not new business).
RULES = [
    ("Asked not to be contacted at all", "do_not_contact", "equals", "yes", 0),
    ("Company is already a customer", "existing_customer", "equals", "yes", 0),
]


def create_rules(apps, schema_editor):
    ScoringRule = apps.get_model("leads", "ScoringRule")
    for name, field, operator, value, points in RULES:
        if not ScoringRule.objects.filter(field=field).exists():
            ScoringRule.objects.create(
                name=name, category="fit", field=field, operator=operator, value=value,
                points=points, disqualifier=True, position=5,
            )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_api_tokens")]

    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
