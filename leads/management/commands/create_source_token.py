from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.models import Source
from leads.services import source_token_create


class Command(BaseCommand):
    help = "Create an API token with which a source can post activities. Shown once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="The source's slug, e.g. demo-request.")
        parser.add_argument("--label", default="", help="What the token is for.")

    def handle(self, *args: str, **options: str) -> None:
        source = Source.objects.filter(slug=options["source"]).first()
        if source is None:
            slugs = ", ".join(Source.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No source '{options['source']}'. Known sources: {slugs}.")
        token = source_token_create(source=source, label=options["label"])
        self.stdout.write(token)
