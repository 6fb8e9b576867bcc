from django.db import migrations

# Rules on what marketing knows before the handoff, tuned on the X Education lead file
# (scoring_report: ROC AUC 0.775 before, 0.805 after). Each is a plain fit rule that RevOps
# can change or switch off. Nothing here reads what sales wrote after contacting the lead.
NEW_RULES = [
    ("Went quiet after a chat or the first form", "attributes.last_activity", "one_of",
     "Olark Chat Conversation, Converted to Lead", -15),
    ("Email bounced", "attributes.last_activity", "equals", "Email Bounced", -20),
    ("Came through chat only", "source", "equals", "olark-chat", -10),
    ("Unemployed, looking to upskill", "attributes.occupation", "equals", "unemployed", 5),
    ("Landing page submission", "attributes.lead_origin", "equals", "landing page submission", 5),
]  # fmt: skip
# Time on the site separates converters best: weigh it more.
REWEIGHTED = {"Spent 15+ minutes on the site": 30, "Spent 5-15 minutes on the site": 12}


def add_rules(apps, schema_editor):
    ScoringRule = apps.get_model("leads", "ScoringRule")
    for name, points in REWEIGHTED.items():
        ScoringRule.objects.filter(name=name, points__in=(20, 8)).update(points=points)
    position = 200
    for name, field, operator, value, points in NEW_RULES:
        position += 10
        ScoringRule.objects.get_or_create(
            name=name,
            defaults={
                "category": "fit", "field": field, "operator": operator, "value": value,
                "points": points, "position": position,
            },
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_documentation_and_reviews")]

    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
