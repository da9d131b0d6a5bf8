"""The API's views: parse, call the same service as the admin or a command, answer.

Status codes are part of the interface: 400 for content the import refuses,
404 for an unknown digest or reader, 409 for a state that does not allow the
request (a date that exists, a digest that cannot move that way).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib

from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, parsers, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from digests.api import serializers as s
from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import TransitionError, digest_export, digest_import
from digests.delivery.autopilot import digest_autopilot
from digests.delivery.progress import digest_progress
from digests.delivery.schedule import StaleDigest, digest_cancel, digest_pause, digest_resume, digest_schedule
from digests.feedback.statistics import digest_stats
from digests.models import Category, Digest, FrequencyChange, Subscriber
from digests.readers.csv_io import subscriber_import
from digests.readers.preferences import subscriber_preferences_editable, subscriber_update_preferences
from digests.readers.privacy import subscriber_erase
from digests.readers.signup import subscriber_by_address, subscriber_signup
from digests.rendering.presend import digest_check, digest_check_errors
from digests.rendering.render import variant_render

IDEMPOTENCY_TTL = 24 * 3600
ACCEPTED = "If the address can be subscribed, it is: a new reader gets a confirmation email."

ERRORS = OpenApiResponse(s.ErrorsOutput, description="The content was refused; nothing changed.")
DETAIL_401 = OpenApiResponse(s.DetailOutput, description="No API key, or a wrong or revoked one.")
DETAIL_403 = OpenApiResponse(s.DetailOutput, description="The key lacks the scope this request needs.")
DETAIL_404 = OpenApiResponse(s.DetailOutput, description="No such digest or reader.")
DETAIL_409 = OpenApiResponse(s.DetailOutput, description="The digest's state does not allow this.")
DETAIL_429 = OpenApiResponse(s.DetailOutput, description="Over the key's rate limit; see Retry-After.")
COMMON = {401: DETAIL_401, 403: DETAIL_403, 429: DETAIL_429}


class MarkdownParser(parsers.BaseParser):
    """The digest text format, exactly the bytes ``import_digest`` reads."""

    media_type = "text/markdown"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


class MarkdownRenderer(renderers.BaseRenderer):
    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class HtmlRenderer(MarkdownRenderer):
    media_type = "text/html"
    format = "html"


class TextRenderer(MarkdownRenderer):
    media_type = "text/plain"
    format = "txt"


def _digest(date: str) -> Digest:
    """The daily of ``YYYY-MM-DD``, or the weekly edition ending on it when written ``weekly:YYYY-MM-DD``."""
    edition = Digest.Edition.DAILY
    if date.startswith("weekly:"):
        edition, date = Digest.Edition.WEEKLY, date.removeprefix("weekly:")
    try:
        issue_date = datetime.date.fromisoformat(date)
    except ValueError:
        raise Http404("Digests are named by their issue date, YYYY-MM-DD (weekly:YYYY-MM-DD for a weekly edition).") from None
    try:
        return Digest.objects.get(issue_date=issue_date, edition=edition)
    except Digest.DoesNotExist:
        raise Http404(f"No {edition} digest for {issue_date.isoformat()}.") from None


def digest_json(digest: Digest, *, checks: bool = False) -> dict:
    """The digest as the API shows it: its fields, categories with items in reading order, optionally its checks."""
    data = s.DigestSummary(digest).data
    data["preheader"] = digest.preheader
    data["intro"] = digest.intro
    if s.model_has(Digest, "subject"):
        data["subject"] = digest.subject
    data["categories"] = [
        {"name": section.category.name, "slug": section.category.slug, "items": s.ItemOutput(section.items, many=True).data}
        for section in _sections(digest)
    ]
    if checks:
        data["checks"] = [
            {"level": p.level, "code": p.code, "message": str(p.message), "item_id": p.item_id} for p in digest_check(digest)
        ]
    return data


def _sections(digest: Digest):
    sections = []
    for item in digest.items.select_related("category").order_by("category__position", "category_id", "position", "id"):
        if not sections or sections[-1].category.pk != item.category_id:
            sections.append(_Section(item.category))
        sections[-1].items.append(item)
    return sections


class _Section:
    def __init__(self, category):
        self.category, self.items = category, []


class DigestListCreate(generics.GenericAPIView):
    required_scopes = {"GET": "digests:read", "POST": "digests:write"}
    parser_classes = [parsers.JSONParser, MarkdownParser]
    serializer_class = s.DigestSummary

    def get_queryset(self):
        return Digest.objects.order_by("-issue_date")

    @extend_schema(
        summary="List digests",
        parameters=[
            OpenApiParameter("status", str, enum=Digest.Status.values),
            OpenApiParameter("from", OpenApiTypes.DATE, description="Issue date on or after."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Issue date on or before."),
        ],
        responses={200: s.DigestSummary(many=True), 400: s.DetailOutput, **COMMON},
    )
    def get(self, request):
        queryset = self.get_queryset()
        if request.query_params.get("status"):
            queryset = queryset.filter(status=request.query_params["status"])
        for param, lookup in (("from", "issue_date__gte"), ("to", "issue_date__lte")):
            if request.query_params.get(param):
                try:
                    queryset = queryset.filter(**{lookup: datetime.date.fromisoformat(request.query_params[param])})
                except ValueError:
                    return Response({"detail": f"{param}: expected a date YYYY-MM-DD."}, status=400)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.DigestSummary(page, many=True).data)

    @extend_schema(
        summary="Create a digest from the text format or JSON",
        description=(
            "Send `Content-Type: text/markdown` (the digest text format, UTF-8, as `import_digest` reads it) or "
            "`application/json`. Errors list `{line, message}` for the text format and `{field, message}` for JSON. "
            "A date that exists is 409 unless `?replace=true` and that digest is still a draft. Repeat a POST with "
            "the same `Idempotency-Key` header to get the first answer again. With DIGEST_AUTOPILOT review or on "
            "the new digest is scheduled (or held)."
        ),
        request={"text/markdown": OpenApiTypes.STR, "application/json": s.DigestInput},
        parameters=[
            OpenApiParameter("replace", OpenApiTypes.BOOL, description="Replace the draft of that date."),
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Makes a retried POST safe."),
        ],
        responses={201: s.DigestOutput, 400: ERRORS, 409: s.DetailOutput, 415: s.DetailOutput, **COMMON},
    )
    def post(self, request):
        idempotency = request.headers.get("Idempotency-Key", "").strip()
        if idempotency:
            cache_key = "api:idempotency:{}:{}".format(
                request.auth.prefix, hashlib.sha256(idempotency.encode("utf-8")).hexdigest()
            )
            first = cache.get(cache_key)
            if first is not None:
                return Response(first["data"], status=first["status"], headers={"Idempotent-Replayed": "true"})
        response = self._create(request)
        if idempotency and response.status_code < 500:
            cache.set(cache_key, {"status": response.status_code, "data": response.data}, timeout=IDEMPOTENCY_TTL)
        return response

    def _create(self, request) -> Response:
        replace = request.query_params.get("replace", "").lower() in ("1", "true", "yes")
        fields: dict[int, str] | None = None
        extra: dict = {}
        if request.content_type.startswith(MarkdownParser.media_type):
            data = request.data if isinstance(request.data, bytes) else b""  # DRF gives an empty body as {}
            try:
                parsed = digest_parse(data)
            except DigestFormatError as exc:
                return _refused([{"line": p.line, "message": str(p.message)} for p in exc.problems])
        else:
            serializer = s.DigestInput(data=request.data)
            if not serializer.is_valid():
                return _refused(s.errors_as_fields(serializer.errors))
            parsed, fields = s.parsed_from_json(serializer.validated_data)
            extra = {name: serializer.validated_data[name] for name in ("subject", "preheader", "intro")}
        existing = Digest.objects.filter(issue_date=parsed.issue_date, edition=Digest.Edition.DAILY).first()
        if existing and not (replace and existing.status == Digest.Status.DRAFT):
            detail = f"A digest for {parsed.issue_date.isoformat()} exists ({existing.status})."
            if existing.status == Digest.Status.DRAFT:
                detail += " Add ?replace=true to replace it."
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        try:
            with transaction.atomic():
                digest = digest_import(parsed, replace=replace)
                changed = [name for name, value in extra.items() if value and s.model_has(Digest, name)]
                for name in changed:
                    setattr(digest, name, extra[name])
                if changed:
                    digest.save(update_fields=changed)
        except DigestFormatError as exc:
            if fields is None:
                return _refused([{"line": p.line, "message": str(p.message)} for p in exc.problems])
            return _refused([{"field": fields.get(p.line, ""), "message": str(p.message)} for p in exc.problems])
        digest_autopilot(digest)
        return Response(digest_json(digest, checks=True), status=status.HTTP_201_CREATED)


def _refused(errors: list[dict]) -> Response:
    return Response({"detail": "The digest was not imported; nothing changed.", "errors": errors}, status=400)


class DigestDetail(APIView):
    required_scopes = "digests:read"

    @extend_schema(summary="One digest, with its pre-send checks", responses={200: s.DigestOutput, 404: DETAIL_404, **COMMON})
    def get(self, request, date: str):
        return Response(digest_json(_digest(date), checks=True))


class DigestMarkdown(APIView):
    required_scopes = "digests:read"
    renderer_classes = [MarkdownRenderer, renderers.JSONRenderer]

    @extend_schema(
        summary="The digest in the text format (byte-identical to export_digest)",
        responses={(200, "text/markdown"): OpenApiTypes.STR, 404: DETAIL_404, **COMMON},
    )
    def get(self, request, date: str):
        return HttpResponse(digest_export(_digest(date)).encode("utf-8"), content_type="text/markdown; charset=utf-8")


class DigestPreview(APIView):
    required_scopes = "digests:read"
    renderer_classes = [HtmlRenderer, TextRenderer, renderers.JSONRenderer]

    @extend_schema(
        summary="The email a reader of some categories gets",
        parameters=[
            OpenApiParameter("categories", str, description="Category slugs, comma-separated; default: all."),
            OpenApiParameter("format", str, enum=["html", "text"], description="Default html."),
        ],
        responses={
            (200, "text/html"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
            400: s.DetailOutput,
            404: DETAIL_404,
            **COMMON,
        },
    )
    def get(self, request, date: str):
        digest = _digest(date)
        kind = request.query_params.get("format", "html")
        if kind not in ("html", "text"):
            return Response({"detail": "format: html or text."}, status=400)
        category_ids = None
        slugs = [slug for slug in request.query_params.get("categories", "").split(",") if slug.strip()]
        if slugs:
            found = dict(Category.objects.filter(slug__in=slugs).values_list("slug", "pk"))
            unknown = [slug for slug in slugs if slug not in found]
            if unknown:
                return Response({"detail": f"unknown categories: {', '.join(unknown)}"}, status=400)
            category_ids = frozenset(found.values())
        rendered = variant_render(digest, category_ids)
        if rendered is None:
            raise Http404("These categories have no items in this digest: such readers get no email.")
        if kind == "text":
            return HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
        return HttpResponse(rendered.html, content_type="text/html; charset=utf-8")


class _SendAction(APIView):
    required_scopes = "sends:write"

    def post(self, request, date: str):
        digest = _digest(date)
        try:
            self.act(request, digest)
        except serializers.ValidationError:
            raise
        except (TransitionError, StaleDigest, ValueError) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        digest.refresh_from_db()
        return Response(digest_json(digest))


SEND_RESPONSES = {200: s.DigestOutput, 404: DETAIL_404, 409: DETAIL_409, **COMMON}


class DigestSchedule(_SendAction):
    parser_classes = [parsers.JSONParser]

    @extend_schema(
        summary="Schedule (or reschedule) the send",
        request=s.ScheduleInput,
        responses={**SEND_RESPONSES, 400: s.DetailOutput},
    )
    def post(self, request, date: str):
        return super().post(request, date)

    def act(self, request, digest):
        form = s.ScheduleInput(data=request.data or {})
        form.is_valid(raise_exception=True)
        errors = digest_check_errors(digest) if digest.is_editable else []
        if errors:
            raise ValueError("Fix these problems before sending: " + "; ".join(str(p.message) for p in errors))
        digest_schedule(digest, at=form.validated_data.get("at"), allow_stale=form.validated_data["allow_stale"])


class DigestCancel(_SendAction):
    @extend_schema(summary="Cancel the schedule or the send", request=None, responses=SEND_RESPONSES)
    def post(self, request, date: str):
        return super().post(request, date)

    def act(self, request, digest):
        digest_cancel(digest)


class DigestPause(_SendAction):
    @extend_schema(summary="Pause a send in progress", request=None, responses=SEND_RESPONSES)
    def post(self, request, date: str):
        return super().post(request, date)

    def act(self, request, digest):
        digest_pause(digest)


class DigestResume(_SendAction):
    @extend_schema(summary="Resume a paused send", request=None, responses=SEND_RESPONSES)
    def post(self, request, date: str):
        return super().post(request, date)

    def act(self, request, digest):
        digest_resume(digest)


class DigestStatus(APIView):
    required_scopes = "digests:read"

    @extend_schema(
        summary="How far the send has got (the figures of send_status)",
        responses={200: OpenApiTypes.OBJECT, 404: DETAIL_404, **COMMON},
    )
    def get(self, request, date: str):
        return Response(digest_progress(_digest(date)).as_dict())


class DigestStats(APIView):
    required_scopes = "digests:read"

    @extend_schema(
        summary="Delivery statistics (the figures of digest_stats)",
        responses={200: OpenApiTypes.OBJECT, 404: DETAIL_404, **COMMON},
    )
    def get(self, request, date: str):
        stats = digest_stats(_digest(date))
        rates = {key: rate.percent for key, rate in stats.rates().items()}
        return Response({**dataclasses.asdict(stats), "bounced": stats.bounced, "rates_percent": rates})


class SubscriberListCreate(generics.GenericAPIView):
    required_scopes = {"GET": "subscribers:read", "POST": "subscribers:write"}
    serializer_class = s.SubscriberOutput

    def get_queryset(self):
        return Subscriber.objects.prefetch_related("categories").order_by("-created_at")

    @extend_schema(
        summary="Find readers (by address)",
        parameters=[OpenApiParameter("email", str)],
        responses={200: s.SubscriberOutput(many=True), **COMMON},
    )
    def get(self, request):
        queryset = self.get_queryset()
        if "email" in request.query_params:
            found = subscriber_by_address(request.query_params["email"])
            queryset = queryset.filter(pk=found.pk if found else None)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.SubscriberOutput(page, many=True).data)

    @extend_schema(
        summary="Add a reader (pending with a confirmation email, or confirmed with subscribers:import)",
        request=s.SubscriberInput,
        responses={202: s.DetailOutput, 400: ERRORS, **COMMON},
    )
    def post(self, request):
        form = s.SubscriberInput(data=request.data)
        if not form.is_valid():
            return Response({"detail": "Not added.", "errors": s.errors_as_fields(form.errors)}, status=400)
        data = form.validated_data
        categories = data.get("categories")
        if categories is None:
            categories = list(Category.objects.filter(is_active=True))
        if data["confirmed"]:
            if "subscribers:import" not in request.auth.scopes:
                return Response({"detail": "confirmed: true needs the subscribers:import scope."}, status=403)
            subscriber_import(
                email=data["email"],
                name=data["name"],
                categories=categories,
                timezone=data["timezone"],
                language=data.get("language") or Subscriber.Language.ZH_HANS,
                confirmed=True,
                consent_form="api",
                consent_wording=data["consent_source"],
                frequency=data.get("frequency"),
                weekly_day=data.get("weekly_day"),
            )
        else:
            subscriber_signup(
                email=data["email"],
                name=data["name"],
                categories=categories,
                language=data.get("language", ""),
                timezone=data["timezone"],
                frequency=data.get("frequency"),
                weekly_day=data.get("weekly_day"),
            )
        # The same answer whatever the address's history: the API never tells who is on the list here.
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class SubscriberDetail(APIView):
    required_scopes = {"GET": "subscribers:read", "PATCH": "subscribers:write", "DELETE": "subscribers:write"}

    def _subscriber(self, id: str) -> Subscriber:
        subscriber = Subscriber.objects.filter(key=id).first()
        if subscriber is None:
            raise Http404("No such reader.")
        return subscriber

    @extend_schema(summary="One reader", responses={200: s.SubscriberOutput, 404: DETAIL_404, **COMMON})
    def get(self, request, id):
        return Response(s.SubscriberOutput(self._subscriber(id)).data)

    @extend_schema(
        summary="Change a reader's preferences",
        request=s.PreferencesInput,
        responses={200: s.SubscriberOutput, 400: ERRORS, 404: DETAIL_404, 409: DETAIL_409, **COMMON},
    )
    def patch(self, request, id):
        subscriber = self._subscriber(id)
        form = s.PreferencesInput(data=request.data)
        if not form.is_valid():
            return Response({"detail": "Not changed.", "errors": s.errors_as_fields(form.errors)}, status=400)
        if not subscriber_preferences_editable(subscriber):
            return Response({"detail": f"A reader who is {subscriber.status} has no preferences to change."}, status=409)
        data = form.validated_data
        subscriber_update_preferences(
            subscriber,
            categories=data.get("categories", subscriber.categories.all()),
            timezone=data.get("timezone", subscriber.timezone),
            language=data.get("language", subscriber.language),
            frequency=data.get("frequency"),
            weekly_day=data.get("weekly_day"),
            via=FrequencyChange.Via.API,
        )
        return Response(s.SubscriberOutput(self._subscriber(id)).data)

    @extend_schema(summary="Erase a reader (as the admin's erase)", responses={204: None, 404: DETAIL_404, **COMMON})
    def delete(self, request, id):
        subscriber_erase(self._subscriber(id), reason="erased through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)


class CategoryList(generics.GenericAPIView):
    required_scopes = None  # any valid key
    serializer_class = s.CategoryOutput
    pagination_class = None

    @extend_schema(summary="The categories readers choose from", responses={200: s.CategoryOutput(many=True), **COMMON})
    def get(self, request):
        return Response(s.CategoryOutput(Category.objects.order_by("position", "id"), many=True).data)
