"""A test copy of one variant, to a staff member's own address, exactly as readers get it."""

from __future__ import annotations

from dataclasses import replace
from email.utils import make_msgid

from django.utils.translation import gettext, override

from digests.delivery.messages import Recipient, ascii_address, sender_domain, variant_message
from digests.delivery.outcomes import Code
from digests.delivery.transport import Outgoing, transport_send
from digests.links import inert_links
from digests.mail import mail_connection
from digests.models import Digest, Item
from digests.rendering.inline import variant_inlined


class TestSendError(ValueError):
    """The test copy could not be made or was not accepted."""


def digest_send_test(digest_id: int, *, category_ids: list[int] | None, language: str, address: str) -> None:
    """Send the variant for ``category_ids`` (None: every category) in ``language`` to ``address``.

    The links in a test copy are inert: they name no reader, so clicking
    unsubscribe in it unsubscribes nobody.
    """
    digest = Digest.objects.get(pk=digest_id)
    if category_ids is None:
        category_ids = list(Item.objects.filter(digest=digest).values_list("category_id", flat=True).distinct())
    rendered = variant_inlined(digest, frozenset(category_ids), language=language)
    if rendered is None:
        raise TestSendError(gettext("No items in the chosen categories."))
    with override(language):
        rendered = replace(rendered, subject=gettext("[Test] %(subject)s") % {"subject": rendered.subject})
    fields = Recipient(to=ascii_address(address), message_id=make_msgid("test", domain=sender_domain()), links=inert_links())
    item = Outgoing(
        delivery_id=0,
        digest_id=digest_id,
        fields=fields,
        variant=variant_message(rendered, digest_id=digest_id, language=language),
        rendered=rendered,
        variant_key=(",".join(map(str, sorted(category_ids))), language),
    )
    outcome = transport_send(mail_connection("bulk"), [item], journal=lambda codes, busy_for: None)[0]
    if outcome.code != Code.SENT:
        raise TestSendError(outcome.error)
