from django.db import models
from django.utils.translation import gettext_lazy as _

from digests.models.content import Digest, Item
from digests.models.readers import Subscriber


class Delivery(models.Model):
    """One digest for one reader: the exactly-once ledger row."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")
        SUPPRESSED = "suppressed", _("Suppressed")

    # Neither has an index of its own: the due index starts with the digest, the
    # unique (subscriber, digest) constraint with the reader (a reader's
    # deliveries: privacy export, leaving, erasure), so the snapshot writes
    # three index entries per row instead of four.
    # No foreign-key constraints either: PostgreSQL checks those one row at a
    # time at the commit, about a third of the snapshot's cost. Django still
    # cascades a deleted digest or reader to their rows, and on PostgreSQL
    # statement-level triggers keep the same guarantee for any SQL (migration
    # 0015): a ledger row naming a missing reader or digest, or a delete that
    # would leave one behind, fails.
    digest = models.ForeignKey(
        Digest,
        verbose_name=_("digest"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    subscriber = models.ForeignKey(
        Subscriber,
        verbose_name=_("subscriber"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    variant = models.CharField(_("variant"), max_length=500, help_text=_("The category ids this reader gets, sorted."))
    not_before = models.DateTimeField(_("earliest send time"))
    # On PostgreSQL compared byte by byte (COLLATE "C", migration 0015): it leads the due index
    # after the digest, and the locale's comparison was a quarter of the snapshot's insert.
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    claim_token = models.CharField(_("claim"), max_length=36, blank=True, help_text=_("Which task run holds this row."))
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["subscriber", "digest"], name="delivery_once_per_reader")]
        indexes = [
            models.Index(fields=["digest", "status", "not_before"], name="delivery_due_idx"),
            # Webhooks find a delivery by the provider's id (exact match only: no LIKE index). Partial, as
            # the next one: the snapshot writes a million rows that have neither yet, and indexes none of them.
            models.Index(
                fields=["provider_message_id"], name="delivery_provider_id_idx", condition=~models.Q(provider_message_id="")
            ),
            # The sending page's rate of the last minute; the first send of a digest (statistics).
            models.Index(fields=["digest", "sent_at"], name="delivery_sent_at_idx", condition=models.Q(sent_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

    @staticmethod
    def withdrawn_status(subscriber_status: str) -> str:
        """What a delivery not yet handed over becomes when its reader leaves ``active``:
        suppressed after a bounce or a complaint, cancelled otherwise."""
        suppressed = (Subscriber.Status.BOUNCED, Subscriber.Status.COMPLAINED)
        return Delivery.Status.SUPPRESSED if subscriber_status in suppressed else Delivery.Status.CANCELLED


class DeliveryClaim(models.Model):
    """One batch's claim on its ledger rows while it is held: the fence between a worker and the sweeper.

    Right before the hand-over the worker re-stamps this one row (``deliveries_recheck``); the
    sweeper reads the stamp before a claim's journal and settles the claim only while the stamp is
    unchanged, under this row's lock. It used to re-stamp every claimed row instead: a third of the
    database's writes per message. No foreign key: the row goes with its batch, and the sweeper
    removes any left behind.
    """

    token = models.CharField(_("claim"), max_length=36, primary_key=True)
    digest_id = models.BigIntegerField(_("digest"))
    stamped_at = models.DateTimeField(_("stamped"))

    class Meta:
        verbose_name = _("delivery claim")
        verbose_name_plural = _("delivery claims")

    def __str__(self) -> str:
        return self.token


class DeliveryCount(models.Model):
    """How many deliveries of a digest are in each status, kept by the database (PostgreSQL).

    Statement-level triggers on the delivery table add every insert, status
    change and delete to these counters, so the sending page and send_status
    read a handful of rows instead of counting a million. No foreign key: the
    counters of a deleted digest drain to zero and are removed with it.
    """

    digest_id = models.BigIntegerField(_("digest"))
    status = models.CharField(_("status"), max_length=20, choices=Delivery.Status.choices)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("delivery count")
        verbose_name_plural = _("delivery counts")
        constraints = [models.UniqueConstraint(fields=["digest_id", "status"], name="delivery_count_per_status")]

    def __str__(self) -> str:
        return f"{self.status}: {self.count}"


class DeliveryEvent(models.Model):
    """What a provider (or our click/open tracking) reported about a delivery."""

    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    subscriber = models.ForeignKey(
        Subscriber, verbose_name=_("subscriber"), null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    item = models.ForeignKey(Item, verbose_name=_("item"), null=True, blank=True, on_delete=models.SET_NULL)
    provider = models.CharField(_("provider"), max_length=50)
    event_id = models.CharField(_("provider event id"), max_length=255, blank=True)
    event_type = models.CharField(_("event"), max_length=30, db_index=True)
    bounce_type = models.CharField(_("bounce type"), max_length=10, blank=True, help_text=_("hard or soft"))
    description = models.TextField(_("description"), blank=True)
    url = models.URLField(_("clicked link"), max_length=1000, blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], condition=~models.Q(event_id=""), name="event_once_per_provider_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} ({self.provider})"
