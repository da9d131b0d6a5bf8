"""Forms of the editorial admin: items with a key-point list, and the Markdown upload."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from digests.admin.widgets import KeyPointsWidget
from digests.models import Item
from digests.models.content import http_url_validator

# Bullets an editor may paste from Markdown or a word processor; the list already says "bullet".
_BULLETS = ("- ", "* ", "• ", "・")
MAX_KEY_POINT_LENGTH = 500
MAX_UPLOAD_BYTES = 1024 * 1024


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

    class Meta:
        model = Item
        fields = ["category", "position", "title", "summary", "background", "key_points", "source_name", "source_url"]
        widgets = {
            "position": forms.NumberInput(attrs={"class": "vIntegerField item-position", "min": 0}),
            "title": forms.TextInput(attrs={"class": "vTextField item-wide"}),
            "summary": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField", "data-char-count": ""}),
            "background": forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField"}),
        }
        help_texts = {"position": _("Order within the category: lower numbers come first.")}


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
        if upload and upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is %(size)d bytes; a digest file may be at most %(max)d bytes."),
                code="too_large",
                params={"size": upload.size, "max": MAX_UPLOAD_BYTES},
            )
        return upload

    def clean_text(self):
        text = self.cleaned_data["text"]
        if len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The text is %(size)d bytes; a digest may be at most %(max)d bytes."),
                code="too_large",
                params={"size": len(text.encode("utf-8")), "max": MAX_UPLOAD_BYTES},
            )
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
