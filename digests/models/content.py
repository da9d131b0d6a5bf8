from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from digests.content.slugs import slug_from_name, slug_unique

http_url_validator = URLValidator(schemes=["http", "https"], message=_("Enter an http:// or https:// link."))


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(
        _("slug"),
        max_length=100,
        unique=True,
        blank=True,
        help_text=_("ASCII, used in links and feeds. Generated from the name (pinyin for Chinese) when left empty."),
    )
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive categories are not offered to readers."))

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            others = Category.objects.exclude(pk=self.pk)
            self.slug = slug_unique(slug_from_name(self.name), lambda s: others.filter(slug=s).exists())
        super().save(*args, **kwargs)


class Digest(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    # The only allowed moves; digests.content.digest_transition enforces them.
    TRANSITIONS = {
        Status.DRAFT: {Status.SCHEDULED, Status.SENDING, Status.CANCELLED},
        Status.SCHEDULED: {Status.DRAFT, Status.SENDING, Status.CANCELLED},
        Status.SENDING: {Status.PAUSED, Status.SENT, Status.CANCELLED},
        Status.PAUSED: {Status.SENDING, Status.CANCELLED},
        Status.SENT: set(),
        Status.CANCELLED: {Status.DRAFT},
    }
    # Scheduling is a Publisher's approval: from then on nobody edits the digest
    # until a Publisher returns it to draft (digest_return_to_draft), which unschedules it.
    EDITABLE = {Status.DRAFT, Status.CANCELLED}

    class Autopilot(models.TextChoices):
        NONE = "", _("Manual")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        AUTOMATIC = "automatic", _("Scheduled automatically")
        HELD = "held", _("Held")

    class Edition(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")

    edition = models.CharField(_("edition"), max_length=10, choices=Edition.choices, default=Edition.DAILY, db_index=True)
    # A weekly edition's issue date is the last day it covers; period_start the first.
    issue_date = models.DateField(_("issue date"))
    period_start = models.DateField(
        _("covers from"), null=True, blank=True, help_text=_("Weekly editions: the first day of the week they cover.")
    )
    title = models.CharField(_("title"), max_length=200)
    preheader = models.CharField(
        _("preheader"), max_length=200, blank=True, help_text=_("Preview text shown by mail apps after the subject.")
    )
    intro = models.TextField(
        _("导语 introduction"), blank=True, help_text=_("A short opening paragraph shown under the masthead.")
    )
    subject = models.CharField(
        _("subject"),
        max_length=200,
        blank=True,
        help_text=_("The email's subject line. Left empty, it is made from the publication's name and the lead story."),
    )
    lead_item = models.ForeignKey(
        "Item",
        verbose_name=_("lead story"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Shown first and larger. Left empty, the first item leads."),
    )
    # Category ids in the order this issue shows its sections (the imported file's
    # order); categories missing from the list follow in their global order.
    section_order = models.JSONField(_("section order"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    scheduled_at = models.DateTimeField(_("send time"), null=True, blank=True)
    allow_stale = models.BooleanField(
        _("send even if stale"), default=False, help_text=_("Start this send even though the issue date is old.")
    )
    autopilot = models.CharField(_("autopilot"), max_length=20, choices=Autopilot.choices, default=Autopilot.NONE, blank=True)
    autopilot_note = models.TextField(_("autopilot note"), blank=True, help_text=_("Why the autopilot held this digest."))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    send_started_at = models.DateTimeField(_("send started"), null=True, blank=True)
    send_finished_at = models.DateTimeField(_("send finished"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-issue_date", "edition"]
        constraints = [models.UniqueConstraint(fields=["issue_date", "edition"], name="digest_one_edition_per_date")]
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        permissions = [("send_digest", _("Can schedule and send digests"))]

    def __str__(self) -> str:
        if self.is_weekly and self.period_start:
            return f"{self.title} ({self.period_start.isoformat()} – {self.issue_date.isoformat()})"
        return f"{self.title} ({self.issue_date.isoformat()})"

    @property
    def is_weekly(self) -> bool:
        return self.edition == self.Edition.WEEKLY

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]


class Item(models.Model):
    # What an item says (everything but where it sits): what a copy into another issue carries.
    CONTENT_FIELDS = (
        "category_id",
        "title",
        "summary",
        "background",
        "key_points",
        "source_name",
        "source_url",
        "image_url",
        "image_alt",
    )

    digest = models.ForeignKey(Digest, verbose_name=_("digest"), on_delete=models.CASCADE, related_name="items")
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("说明 summary"))
    background = models.TextField(_("背景 background"), blank=True)
    key_points = models.JSONField(_("要点 key points"), default=list, blank=True)
    source_name = models.CharField(_("source name"), max_length=200, blank=True)
    source_url = models.URLField(_("source link"), max_length=1000, blank=True, validators=[http_url_validator])
    image_url = models.URLField(
        _("image link"),
        max_length=1000,
        blank=True,
        validators=[http_url_validator],
        help_text=_("Optional. An https:// image shown 536 pixels wide above the summary; never in the plain-text part."),
    )
    image_alt = models.CharField(
        _("image description"), max_length=300, blank=True, help_text=_("What the image shows, for readers who cannot see it.")
    )
    highlight = models.BooleanField(
        _("highlight of the week"), default=False, help_text=_("Always carried into the weekly edition of its week.")
    )

    class Meta:
        ordering = ["category__position", "category_id", "position", "id"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        indexes = [models.Index(fields=["digest", "category", "position"])]

    def __str__(self) -> str:
        return self.title

    def copy_into(self, digest: Digest, *, position: int) -> "Item":
        """An unsaved copy of this item's content in ``digest`` at ``position``."""
        return Item(digest=digest, position=position, **{name: getattr(self, name) for name in self.CONTENT_FIELDS})
