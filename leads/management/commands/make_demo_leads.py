"""Write a realistic, made-up lead file for the demo: `make_demo_leads --rows 300 --out FILE`.

The same seed and anchor time always give the same file, byte for byte. The mix is chosen so
that a few hundred rows give the demo team (five BDRs at 50 leads a week) a realistic week:
buyers and researchers, company and personal addresses, and some students and job seekers that
the scoring rules must keep out.
"""

import csv
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from faker import Faker

HEADERS = [
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "Title",
    "Industry",
    "Employees",
    "Country",
    "City",
    "Lead Source",
    "Campaign",
    "Created Date",
    # What the lead did, as marketing automation counts it; the import turns each into activities.
    "Website Visits",
    "Pricing Page Visits",
    "Content Downloads",
    "Webinar Attended",
    "Email Clicks",
]
CREATED_DATE_FORMAT = "%Y-%m-%d %H:%M"
HISTORY_DAYS = 14


@dataclass(frozen=True)
class Country:
    name: str
    locale: str
    # International format; each # is a digit, the first one never 0 or 1.
    phone_pattern: str
    tld: str
    weight: int


COUNTRIES = [
    Country("United States", "en_US", "+1 ###-###-####", "com", 34),
    Country("United Kingdom", "en_GB", "+44 #### ######", "co.uk", 15),
    Country("Germany", "de_DE", "+49 ### #######", "de", 12),
    Country("Canada", "en_CA", "+1 ###-###-####", "ca", 8),
    Country("France", "fr_FR", "+33 # ## ## ## ##", "fr", 7),
    Country("Netherlands", "nl_NL", "+31 ## ### ####", "nl", 7),
    Country("Australia", "en_AU", "+61 # #### ####", "com.au", 6),
    Country("India", "en_IN", "+91 ##### #####", "in", 6),
    Country("Ireland", "en_IE", "+353 ## ### ####", "ie", 5),
]

# Lead source: weight, the campaigns that bring it in, and how keen such a lead usually is
# (0 to 1), which drives how much else it did.
SOURCES = {
    "Demo request": (20, ["Website - Book a demo", "G2 profile - Request a demo"], 0.9),
    "Pricing-page visit": (25, ["Google Ads - Pricing", "LinkedIn retargeting - Pricing"], 0.6),
    "Case-study download": (
        25,
        ["Case study - Northwind Logistics", "LinkedIn - Case studies", "Organic search"],
        0.4,
    ),
    "Newsletter signup": (
        30,
        ["Monthly newsletter", "Blog footer signup", "Webinar - RevOps 101"],
        0.25,
    ),
}

# Buyers and sponsors, the people who do the work, and those who will not buy.
SENIOR_TITLES = [
    "VP of Sales", "VP Marketing", "Head of Revenue Operations", "Head of Growth",
    "Director of Sales", "Marketing Director", "IT Director", "Chief Revenue Officer", "CEO",
    "CTO", "COO", "Founder", "Co-Founder & CEO", "Owner", "Sales Manager",
    "Marketing Operations Manager", "RevOps Manager", "Customer Success Manager",
]  # fmt: skip
STAFF_TITLES = [
    "Account Executive", "Sales Development Representative", "Marketing Specialist",
    "Demand Generation Specialist", "Business Analyst", "Software Engineer", "Data Analyst",
    "Operations Coordinator", "Consultant", "Content Marketer",
]  # fmt: skip
JUNIOR_TITLES = [
    "Student", "MBA Student", "Marketing Intern", "Sales Intern", "Job seeker",
    "Graduate looking for work",
]  # fmt: skip
TITLE_GROUPS = [(SENIOR_TITLES, 45), (STAFF_TITLES, 40), (JUNIOR_TITLES, 15)]

INDUSTRIES = [
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education",
    "Logistics", "Professional Services", "Telecommunications", "Media",
]  # fmt: skip
# (low, high, weight): few micro companies and few giants, most in the middle.
EMPLOYEE_BANDS = [(1, 10, 10), (11, 49, 20), (50, 249, 30), (250, 999, 20), (1000, 4999, 12),
                  (5000, 50000, 8)]  # fmt: skip
PERSONAL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"]
DISPOSABLE_DOMAINS = ["mailinator.com", "yopmail.com"]
# company, personal, disposable
EMAIL_KIND_WEIGHTS = [76, 21, 3]


def _ascii(text: str) -> str:
    """Lowercase ASCII letters and digits only, for the parts of an email address."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())


def _weighted(rng: random.Random, options: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def demo_lead_rows(*, rows: int, seed: int, now: datetime) -> list[dict[str, str]]:
    """The rows of the demo file, as CSV text values keyed by header."""
    rng = random.Random(seed)
    fakers = {}
    for country in COUNTRIES:
        fake = Faker(country.locale)
        # One stream per locale, so that locales sharing a name list do not repeat each other.
        fake.seed_instance(f"{seed}:{country.locale}")
        fakers[country.locale] = fake
    used_emails: set[str] = set()
    result = []
    for _ in range(rows):
        country = _weighted(rng, [(country, country.weight) for country in COUNTRIES])
        fake = fakers[country.locale]
        first, last = fake.first_name(), fake.last_name()
        company = fake.company()
        source = _weighted(rng, [(name, weight) for name, (weight, _, _) in SOURCES.items()])
        low, high = _weighted(rng, [((low, high), weight) for low, high, weight in EMPLOYEE_BANDS])
        email = _unique_email(
            rng, used_emails, first=first, last=last, company=company, tld=country.tld
        )
        created = now - timedelta(minutes=rng.randrange(HISTORY_DAYS * 24 * 60))
        result.append(
            {
                "First Name": first,
                "Last Name": last,
                "Email": email,
                "Phone": _phone(rng, country),
                "Company": company,
                "Title": rng.choice(_weighted(rng, TITLE_GROUPS)),
                "Industry": rng.choice(INDUSTRIES),
                "Employees": str(rng.randint(low, high)),
                "Country": country.name,
                "City": fake.city(),
                "Lead Source": source,
                "Campaign": rng.choice(SOURCES[source][1]),
                "Created Date": created.strftime(CREATED_DATE_FORMAT),
                **_engagement(rng, source),
            }
        )
    return result


def _engagement(rng: random.Random, source: str) -> dict[str, str]:
    """Activity counts that follow the source: a demo request browsed more than a newsletter
    reader, with enough spread that some of each kind qualify and some do not."""
    intent = min(1.0, max(0.0, rng.gauss(SOURCES[source][2], 0.25)))
    pricing = int(source == "Pricing-page visit") + sum(
        rng.random() < intent * 0.6 for _ in range(2)
    )
    downloads = int(source == "Case-study download") + int(rng.random() < intent * 0.5)
    return {
        "Website Visits": str(rng.randint(0, 2 + round(intent * 10))),
        "Pricing Page Visits": str(pricing),
        "Content Downloads": str(downloads),
        "Webinar Attended": "Yes" if rng.random() < 0.05 + intent * 0.25 else "No",
        "Email Clicks": str(rng.randint(0, round(intent * 4))),
    }


def _unique_email(
    rng: random.Random, used: set[str], *, first: str, last: str, company: str, tld: str
) -> str:
    kind = rng.choices(["company", "personal", "disposable"], weights=EMAIL_KIND_WEIGHTS)[0]
    if kind == "company":
        domain = f"{_company_domain_name(company)}.{tld}"
        local = rng.choice(
            [f"{_ascii(first)}.{_ascii(last)}", f"{_ascii(first)[:1]}{_ascii(last)}"]
        )
    else:
        domain = rng.choice(PERSONAL_DOMAINS if kind == "personal" else DISPOSABLE_DOMAINS)
        local = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}"
    email = f"{local}@{domain}"
    suffix = 2
    while email in used:
        email = f"{local}{suffix}@{domain}"
        suffix += 1
    used.add(email)
    return email


def _company_domain_name(company: str) -> str:
    """ "Martinez, Nielsen and Miller" gives martinez, "van Dijk BV" gives vandijk."""
    name = ""
    for word in company.split():
        name += _ascii(word)
        if len(name) >= 4:
            break
    return name or "company"


def _phone(rng: random.Random, country: Country) -> str:
    digits = [str(rng.randint(2, 9))] + [str(rng.randint(0, 9)) for _ in range(20)]
    number, _, rest = country.phone_pattern.partition(" ")
    for digit in digits:
        rest = rest.replace("#", digit, 1)
    return f"{number} {rest}"


class Command(BaseCommand):
    help = "Write a made-up lead file for the demo (deterministic for a seed and an anchor time)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=300, help="How many leads (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--out", default="var/demo_leads.csv", help="Where to write the CSV file."
        )
        parser.add_argument(
            "--now",
            help=(
                "The anchor instant, ISO 8601 in UTC; created dates fall in the 14 days before "
                "it. Defaults to today's midnight UTC, so one seed gives one file per day."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = options["rows"]
        if rows < 1:
            raise CommandError(f"--rows must be at least 1, not {rows}.")
        now = self._anchor(options["now"])
        out = Path(options["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        lead_rows = demo_lead_rows(rows=rows, seed=options["seed"], now=now)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HEADERS)
            writer.writeheader()
            writer.writerows(lead_rows)
        self.stdout.write(f"Wrote {len(lead_rows)} demo leads to {out}")

    def _anchor(self, value: str | None) -> datetime:
        if not value:
            today = datetime.now(tz=UTC).date()
            return datetime(today.year, today.month, today.day, tzinfo=UTC)
        try:
            anchor = datetime.fromisoformat(value)
        except ValueError as error:
            raise CommandError(f"--now '{value}' is not an ISO 8601 date or time.") from error
        return anchor if anchor.tzinfo else anchor.replace(tzinfo=UTC)
