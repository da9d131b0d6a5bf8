"""The DATE_OR_ID argument that every per-digest command takes."""

from django.core.management.base import CommandError

from digests.content.services import digest_lookup
from digests.models import Digest


def add_digest_argument(parser) -> None:
    parser.add_argument(
        "digest",
        metavar="DATE_OR_ID",
        help="Issue date (YYYY-MM-DD), weekly:YYYY-MM-DD for the weekly edition ending that day, or digest id",
    )


def digest_from_argument(value: str) -> Digest:
    """The digest named on the command line, or a CommandError saying none matches."""
    try:
        return digest_lookup(value)
    except Digest.DoesNotExist as exc:
        raise CommandError(str(exc)) from None
