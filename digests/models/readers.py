import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from digests.models.content import Category


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending confirmation")
        ACTIVE = "active", _("Active")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")

    class Source(models.TextChoices):
        SIGNUP = "signup", _("Signup form")
        IMPORT = "import", _("Import")
        ADMIN = "admin", _("Admin")

    class Language(models.TextChoices):
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        BOTH = "both", _("Daily and weekly")

    class Weekday(models.TextChoices):
        # Values are the CSV spelling; Weekday.index() maps to Python's date.weekday().
        MON = "mon", _("Monday")
        TUE = "tue", _("Tuesday")
        WED = "wed", _("Wednesday")
        THU = "thu", _("Thursday")
        FRI = "fri", _("Friday")
        SAT = "sat", _("Saturday")
        SUN = "sun", _("Sunday")

    # Reader links carry a signed token of this key, never the address or the pk.
    key = models.UUIDField(_("key"), default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("email address"), max_length=254)
    name = models.CharField(_("name"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    categories = models.ManyToManyField(Category, verbose_name=_("categories"), blank=True, related_name="subscribers")
    timezone = models.CharField(_("time zone"), max_length=64, blank=True, help_text=_("IANA name; empty means the site's."))
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    weekly_day = models.CharField(
        _("weekly edition on"),
        max_length=3,
        choices=Weekday.choices,
        default=Weekday.SAT,
        help_text=_("The weekday the weekly edition arrives, at the reader's usual send time."),
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.SIGNUP)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    # The welcome goes once per subscription: when this is older than confirmed_at.
    welcome_sent_at = models.DateTimeField(_("welcome sent"), null=True, blank=True)
    suppressed_at = models.DateTimeField(_("suppressed"), null=True, blank=True)
    suppression_reason = models.TextField(_("suppression reason"), blank=True)
    soft_bounces = models.PositiveSmallIntegerField(
        _("soft bounces in a row"), default=0, help_text=_("Reset by every delivered message.")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        constraints = [models.UniqueConstraint(Lower("email"), name="subscriber_email_ci_unique")]
        # Plain b-tree indexes: db_index=True on a CharField also builds a LIKE index on PostgreSQL,
        # which no query here uses and every insert (a list import's 100,000) pays for.
        indexes = [
            models.Index(fields=["status"], name="subscriber_status"),
            models.Index(fields=["frequency"], name="subscriber_frequency"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def tz_name(self) -> str:
        return self.timezone or settings.TIME_ZONE

    @property
    def weekly_weekday(self) -> int:
        """The weekly day as ``date.weekday()`` counts it (Monday is 0)."""
        return WEEKDAYS.index(self.weekly_day)

    @classmethod
    def frequencies_taking(cls, edition: str) -> tuple[str, ...]:
        """The frequencies whose readers get ``edition`` (``daily`` or ``weekly``): its own and ``both``."""
        return (edition, cls.Frequency.BOTH)

    def receives(self, edition: str) -> bool:
        return self.frequency in self.frequencies_taking(edition)


WEEKDAYS = [day.value for day in Subscriber.Weekday]


class FrequencyChange(models.Model):
    """A reader moved between daily and weekly: the list-growth page counts the moves that replaced an unsubscribe."""

    class Via(models.TextChoices):
        SIGNUP = "signup", _("Signup form")
        PREFERENCES = "preferences", _("Preference centre")
        UNSUBSCRIBE_PAGE = "unsubscribe_page", _("Unsubscribe page")
        ADMIN = "admin", _("Admin")
        IMPORT = "import", _("Import")
        API = "api", _("API")

    subscriber = models.ForeignKey(
        Subscriber, verbose_name=_("subscriber"), on_delete=models.CASCADE, related_name="frequency_changes"
    )
    old = models.CharField(_("from"), max_length=10, choices=Subscriber.Frequency.choices)
    new = models.CharField(_("to"), max_length=10, choices=Subscriber.Frequency.choices)
    via = models.CharField(_("via"), max_length=20, choices=Via.choices)
    created_at = models.DateTimeField(_("changed at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("frequency change")
        verbose_name_plural = _("frequency changes")

    def __str__(self) -> str:
        return f"{self.old} → {self.new} ({self.via})"


class Consent(models.Model):
    """Evidence of one opt-in: when, through which form, and the words shown."""

    subscriber = models.ForeignKey(Subscriber, verbose_name=_("subscriber"), on_delete=models.CASCADE, related_name="consents")
    created_at = models.DateTimeField(_("given at"), auto_now_add=True)
    form = models.CharField(_("form"), max_length=50, help_text=_("signup, confirmation, preferences, import…"))
    ip_hash = models.CharField(
        _("IP address hash"), max_length=64, blank=True, help_text=_("Keyed hash; the address is not stored.")
    )
    wording = models.TextField(_("wording shown"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self) -> str:
        return f"{self.form} @ {self.created_at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An address that must never be mailed or re-imported, kept only as a keyed hash."""

    email_hash = models.CharField(_("address hash"), max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=50)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"


class SubscriberImport(models.Model):
    """A large CSV upload imported in the background; the admin follows its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    data = models.BinaryField(_("file"))
    confirmed = models.BooleanField(_("opted in elsewhere"), default=False)
    language = models.CharField(_("language of the report"), max_length=10, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    processed = models.PositiveIntegerField(_("lines processed"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscriber import")
        verbose_name_plural = _("subscriber imports")

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class TransactionalEmail(models.Model):
    """The transactional outbox: one row per email a reader is owed (a confirmation, later a welcome or a data export).

    Written in the same transaction as the change that owes it and stamped
    ``sent`` only once the mail server accepted the message, so an email owed
    while the broker was down is sent by housekeeping when it is back.
    """

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Confirmation request")
        WELCOME = "welcome", _("Welcome")
        DATA_EXPORT = "data_export", _("Data export link")

    class Status(models.TextChoices):
        OWED = "owed", _("Owed")
        SENT = "sent", _("Sent")
        DROPPED = "dropped", _("No longer needed")
        FAILED = "failed", _("Refused by the mail server")

    subscriber = models.ForeignKey(
        Subscriber, verbose_name=_("subscriber"), on_delete=models.CASCADE, related_name="transactional_emails"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OWED)
    created_at = models.DateTimeField(_("owed since"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), help_text=_("When housekeeping hands it to a worker again."))
    claimed_until = models.DateTimeField(
        _("claimed until"), null=True, blank=True, help_text=_("A worker is sending it; after this time it counts as not sent.")
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("transactional email")
        verbose_name_plural = _("transactional emails")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="transactional_owed_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"
