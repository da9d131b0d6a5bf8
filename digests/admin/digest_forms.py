"""Forms of the editorial admin: items with a key-point list, and the Markdown upload."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from digests.admin.widgets import KeyPointsWidget
from digests.content.ordering import section_rank
from digests.content.services import digest_file_size_error
from digests.models import Category, Digest, Item
from digests.models.content import http_url_validator

# Bullets an editor may paste from Markdown or a word processor; the list already says "bullet".
_BULLETS = ("- ", "* ", "• ", "・")
MAX_KEY_POINT_LENGTH = 500


class KeyPointsField(forms.Field):
    """An ordered list of short texts, edited one per line; cleans to a list of strings."""

    widget = KeyPointsWidget
    default_error_messages = {
        "required": _("Enter at least one key point (one per line)."),
        "too_long": _("Key point %(number)d is %(length)d characters long; keep each point under %(max)d."),
    }

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(point) for point in value)
        return value

    def to_python(self, value) -> list[str]:
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            lines = [str(point) for point in value]
        else:
            lines = str(value).splitlines()
        points = []
        for line in lines:
            point = line.strip()
            for bullet in _BULLETS:
                if point.startswith(bullet):
                    point = point[len(bullet) :].strip()
                    break
            if point:
                points.append(point)
        return points

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        errors = [
            ValidationError(
                self.error_messages["too_long"],
                code="too_long",
                params={"number": number, "length": len(point), "max": MAX_KEY_POINT_LENGTH},
            )
            for number, point in enumerate(value, start=1)
            if len(point) > MAX_KEY_POINT_LENGTH
        ]
        if errors:
            raise ValidationError(errors)

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial) != self.to_python(data)


class HttpURLField(forms.URLField):
    """A link that must be http or https, refused with the model's own message (not "Enter a valid URL")."""

    default_validators = [http_url_validator]
    default_error_messages = {"invalid": http_url_validator.message}


class ItemForm(forms.ModelForm):
    key_points = KeyPointsField(
        label=_("要点 key points"),
        help_text=_("One key point per line, in reading order."),
    )
    # Declared so an address typed without a scheme gets https:// (the model's
    # validator, run on save, still refuses anything but http and https).
    source_url = HttpURLField(
        label=_("source link"),
        max_length=1000,
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vURLField item-wide"}),
    )

    image_url = forms.URLField(
        label=_("image link"),
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text=_("Optional. An https:// image shown 536 pixels wide above the summary; never in the plain-text part."),
        widget=forms.URLInput(attrs={"class": "vURLField"}),
    )

    class Meta:
        model = Item
        fields = [
            "category",
            "position",
            "title",
            "summary",
            "background",
            "key_points",
            "source_name",
            "source_url",
            "image_url",
            "image_alt",
            "highlight",
        ]
        widgets = {
            "position": forms.NumberInput(attrs={"class": "vIntegerField item-position", "min": 0}),
            "title": forms.TextInput(attrs={"class": "vTextField item-wide"}),
            "summary": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField", "data-char-count": ""}),
            "background": forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField"}),
        }
        help_texts = {"position": _("Order within the category: lower numbers come first.")}


class DigestForm(forms.ModelForm):
    """The digest's own fields, its lead story (one of its items) and the order of its sections."""

    section_order_names = forms.CharField(
        label=_("section order"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "vLargeTextField"}),
        help_text=_(
            "The categories of this issue, one per line, in the order the email shows them. "
            "Categories left out follow in their usual order."
        ),
    )

    class Meta:
        model = Digest
        fields = ["issue_date", "title", "subject", "preheader", "intro", "lead_item"]
        widgets = {"intro": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        digest = self.instance if self.instance.pk else None
        if "lead_item" in self.fields:
            self.fields["lead_item"].queryset = (
                Item.objects.filter(digest=digest).order_by("category__position", "category_id", "position", "id")
                if digest
                else Item.objects.none()
            )
        if digest is not None and "section_order_names" in self.fields:
            used = Category.objects.filter(items__digest=digest).distinct()
            ordered = sorted(used, key=section_rank(digest.section_order))
            self.fields["section_order_names"].initial = "\n".join(category.name for category in ordered)

    def clean_section_order_names(self) -> list[int]:
        names = [line.strip() for line in self.cleaned_data.get("section_order_names", "").splitlines() if line.strip()]
        found = dict(Category.objects.filter(name__in=names).values_list("name", "pk"))
        unknown = [name for name in names if name not in found]
        if unknown:
            raise ValidationError(
                _("No category is called %(names)s."), code="unknown_category", params={"names": "、".join(unknown)}
            )
        return list(dict.fromkeys(found[name] for name in names))

    def save(self, commit=True):
        if "section_order_names" in self.cleaned_data and self.cleaned_data["section_order_names"]:
            self.instance.section_order = self.cleaned_data["section_order_names"]
        return super().save(commit=commit)


class MarkdownImportForm(forms.Form):
    """A digest in the newsroom's text format, uploaded as a file or pasted as text; both go to ``digest_parse``."""

    # An empty file reaches the parser, which says what a digest file should contain.
    file = forms.FileField(
        allow_empty_file=True,
        required=False,
        label=_("Markdown file"),
        help_text=_("A digest in the newsroom format, UTF-8 encoded, e.g. ai-digest-2026-02-06.md."),
    )
    text = forms.CharField(
        required=False,
        strip=False,
        label=_("Or paste the issue"),
        widget=forms.Textarea(attrs={"rows": 18, "class": "vLargeTextField digest-paste", "spellcheck": "false"}),
        help_text=_("The whole issue in the same format: the title line, **section** headings, then the items."),
    )
    replace = forms.BooleanField(
        label=_("Replace existing"),
        required=False,
        help_text=_("If a digest for the same date exists and has not been sent, replace its title and items."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        too_large = digest_file_size_error(upload.size) if upload else None
        if too_large:
            raise ValidationError(too_large, code="too_large")
        return upload

    def clean_text(self):
        text = self.cleaned_data["text"]
        too_large = digest_file_size_error(len(text.encode("utf-8")))
        if too_large:
            raise ValidationError(too_large, code="too_large")
        return text

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("file") and not cleaned.get("text", "").strip():
            raise ValidationError(_("Choose a file or paste the issue's text."), code="empty")
        return cleaned

    @property
    def pasted(self) -> bool:
        """True when the digest comes from the text box (a file, if both are given, wins)."""
        return not self.cleaned_data.get("file")

    def read(self) -> bytes:
        """The digest's bytes, from the file or the pasted text (call after is_valid())."""
        upload = self.cleaned_data["file"]
        if not upload:
            return self.cleaned_data["text"].encode("utf-8")
        upload.seek(0)
        return upload.read()


class DuplicateForm(forms.Form):
    with_items = forms.BooleanField(
        label=_("Copy the items too"),
        required=False,
        help_text=_("Unticked: each section gets one empty item to write."),
    )


class WeeklyBuildForm(forms.Form):
    end_date = forms.DateField(
        label=_("Last day of the week"),
        help_text=_("The weekly covers the seven days ending on this day (YYYY-MM-DD)."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    replace = forms.BooleanField(
        label=_("Rebuild the existing draft"),
        required=False,
        help_text=_("If a weekly draft for this week exists, build its items again; its 导语, subject and preheader are kept."),
    )
