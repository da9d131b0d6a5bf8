"""What the API reads and writes: digests (structured JSON), sends, readers, categories."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from digests.content.digest_format import ParsedDigest, ParsedItem, ParsedSection
from digests.delivery.autopilot import approval_deadline
from digests.models import Category, Digest, Item, Subscriber
from digests.readers.preferences import timezone_is_valid


def model_has(model, name: str) -> bool:
    """Whether ``model`` has a field ``name`` (subject and item images arrive with the email design work)."""
    return any(f.name == name for f in model._meta.get_fields())


class ItemInput(serializers.Serializer):
    title = serializers.CharField()
    summary = serializers.CharField()
    background = serializers.CharField(required=False, allow_blank=True, default="")
    key_points = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    source_name = serializers.CharField(required=False, allow_blank=True, default="")
    source_url = serializers.URLField(required=False, allow_blank=True, default="")
    image = serializers.URLField(required=False, allow_blank=True, default="", help_text="Stored when the model has item images.")


class CategoryInput(serializers.Serializer):
    name = serializers.CharField()
    items = ItemInput(many=True, allow_empty=False)


class DigestInput(serializers.Serializer):
    """A digest as structured JSON: the same content the text format carries, categories in order."""

    issue_date = serializers.DateField()
    title = serializers.CharField()
    subject = serializers.CharField(required=False, allow_blank=True, default="")
    preheader = serializers.CharField(required=False, allow_blank=True, default="")
    intro = serializers.CharField(required=False, allow_blank=True, default="")
    categories = CategoryInput(many=True, allow_empty=False)


def parsed_from_json(data: dict) -> tuple[ParsedDigest, dict[int, str]]:
    """The validated JSON as the text format's structure, and which field each synthetic line stands for.

    The import reports problems by line; numbering the header, each category
    and each item lets those problems be told back as JSON field paths.
    """
    fields = {1: "title"}
    line = 1
    sections = []
    for c, category in enumerate(data["categories"]):
        line += 1
        section_line = line
        fields[section_line] = f"categories[{c}].name"
        items = []
        for i, item in enumerate(category["items"]):
            line += 1
            fields[line] = f"categories[{c}].items[{i}]"
            items.append(
                ParsedItem(
                    title=item["title"],
                    summary=item["summary"],
                    background=item["background"],
                    key_points=tuple(item["key_points"]),
                    source_name=item["source_name"],
                    source_url=item["source_url"],
                    line=line,
                )
            )
        sections.append(ParsedSection(name=category["name"], items=tuple(items), line=section_line))
    return ParsedDigest(title=data["title"], issue_date=data["issue_date"], sections=tuple(sections)), fields


def errors_as_fields(errors, path: str = "") -> list[dict]:
    """DRF's nested validation errors as a flat list of ``{field, message}``."""
    out: list[dict] = []
    if isinstance(errors, dict):
        for name, value in errors.items():
            if isinstance(name, int):  # DRF reports a list's items by index
                out += errors_as_fields(value, f"{path}[{name}]")
                continue
            child = name if name != "non_field_errors" else ""
            out += errors_as_fields(value, f"{path}.{child}" if path and child else (child or path))
    elif isinstance(errors, list):
        if errors and all(isinstance(e, str) for e in errors):
            out += [{"field": path, "message": str(e)} for e in errors]
        else:
            for index, value in enumerate(errors):
                if value:
                    out += errors_as_fields(value, f"{path}[{index}]")
    else:
        out.append({"field": path, "message": str(errors)})
    return out


class ItemOutput(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "title", "summary", "background", "key_points", "source_name", "source_url"]


class CheckOutput(serializers.Serializer):
    level = serializers.ChoiceField(choices=["error", "warning"])
    code = serializers.CharField()
    message = serializers.CharField()
    item_id = serializers.IntegerField(allow_null=True)


class SectionOutput(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    items = ItemOutput(many=True)


class DigestSummary(serializers.ModelSerializer):
    approval_deadline = serializers.SerializerMethodField(help_text="When a Publisher's approval must be in (autopilot review).")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_approval_deadline(self, digest: Digest) -> str | None:
        deadline = approval_deadline(digest)
        return serializers.DateTimeField().to_representation(deadline) if deadline else None

    class Meta:
        model = Digest
        fields = [
            "id",
            "edition",
            "issue_date",
            "period_start",
            "title",
            "status",
            "scheduled_at",
            "autopilot",
            "approval_deadline",
            "send_started_at",
            "send_finished_at",
            "created_at",
            "updated_at",
        ]


class DigestOutput(DigestSummary):
    preheader = serializers.CharField()
    intro = serializers.CharField()
    categories = SectionOutput(many=True)
    checks = CheckOutput(many=True, required=False)

    class Meta(DigestSummary.Meta):
        fields = DigestSummary.Meta.fields + ["preheader", "intro", "categories", "checks"]


class ScheduleInput(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="Default: the issue date at DIGEST_SEND_TIME.")
    allow_stale = serializers.BooleanField(required=False, default=False)


class ProblemOutput(serializers.Serializer):
    line = serializers.IntegerField(required=False)
    field = serializers.CharField(required=False)
    message = serializers.CharField()


class ErrorsOutput(serializers.Serializer):
    detail = serializers.CharField()
    errors = ProblemOutput(many=True)


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class CategoryOutput(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "description", "position", "is_active"]


def _category_slugs(slugs: list[str]) -> list[Category]:
    found = {c.slug: c for c in Category.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise serializers.ValidationError(f"unknown categories: {', '.join(unknown)}")
    return [found[s] for s in slugs]


def _timezone(value: str) -> str:
    if value and not timezone_is_valid(value):
        raise serializers.ValidationError(f"unknown time zone {value!r}")
    return value


class SubscriberInput(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    categories = serializers.ListField(
        child=serializers.SlugField(), required=False, help_text="Category slugs; default: every active category."
    )
    timezone = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=Subscriber.Language.choices, required=False)
    frequency = serializers.ChoiceField(
        choices=Subscriber.Frequency.choices, required=False, help_text="daily, weekly or both; default: daily."
    )
    weekly_day = serializers.ChoiceField(
        choices=Subscriber.Weekday.choices, required=False, help_text="The weekly edition's weekday; default: sat."
    )
    confirmed = serializers.BooleanField(required=False, default=False, help_text="Needs the subscribers:import scope.")
    consent_source = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate_categories(self, value):
        return _category_slugs(value)

    def validate_timezone(self, value):
        return _timezone(value)

    def validate(self, attrs):
        if attrs["confirmed"] and not attrs["consent_source"].strip():
            raise serializers.ValidationError(
                {"consent_source": "Say where the reader opted in (stored with the consent record)."}
            )
        return attrs


class PreferencesInput(serializers.Serializer):
    categories = serializers.ListField(child=serializers.SlugField(), required=False)
    timezone = serializers.CharField(required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Subscriber.Language.choices, required=False)
    frequency = serializers.ChoiceField(choices=Subscriber.Frequency.choices, required=False, help_text="daily, weekly or both")
    weekly_day = serializers.ChoiceField(
        choices=Subscriber.Weekday.choices, required=False, help_text="The weekly edition's weekday"
    )

    def validate_categories(self, value):
        return _category_slugs(value)

    def validate_timezone(self, value):
        return _timezone(value)


class SubscriberOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="key", read_only=True)
    categories = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Subscriber
        fields = [
            "id",
            "email",
            "name",
            "status",
            "categories",
            "timezone",
            "language",
            "frequency",
            "weekly_day",
            "source",
            "created_at",
            "confirmed_at",
        ]
