"""The canonical form of an email address: the key that tells two leads are one person.

Addresses are case-insensitive in practice and often carry stray spaces. Gmail ignores dots in
the local part and anything after a `+`, and googlemail.com is the same mailbox as gmail.com, so
`John.Smith+webinar@googlemail.com` and `johnsmith@gmail.com` are one person. Other providers
do not promise that, so their addresses keep their dots and tags.
"""

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
GMAIL = "gmail.com"


def canonical_email(email: str) -> str:
    """Lowercased and trimmed; for Gmail also without dots or +tag, on gmail.com. Empty for an
    empty address, so that the unique constraint leaves leads without an email alone."""
    folded = (email or "").strip().lower()
    local, at, domain = folded.rpartition("@")
    if not at or not local:
        return folded
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = GMAIL
    return f"{local}@{domain}"
