"""Editorial services: status changes, Markdown import and export of digests."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from digests.content.digest_format import (
    DigestFormatError,
    ParsedDigest,
    ParsedItem,
    ParsedSection,
    Problem,
    digest_format,
    digest_parse,
)
from digests.content.ordering import items_by_section
from digests.content.weekly import week_of
from digests.models import Category, Delivery, Digest, Item
from digests.webhooks.events import digest_data, event_emit


class TransitionError(ValueError):
    """A status change that the digest's life cycle does not allow."""


def digest_transition(digest: Digest, *, to: str, **fields) -> Digest:
    """Move ``digest`` to status ``to`` if allowed and nobody else moved it first.

    The UPDATE is conditional on the status we read, so two processes racing to
    start the same send cannot both succeed: the loser gets TransitionError.
    """
    current = Digest.Status(digest.status)
    if not digest.can_move_to(to):
        raise TransitionError(
            _("A digest that is “%(current)s” cannot become “%(to)s”.")
            % {"current": current.label, "to": Digest.Status(to).label}
        )
    now = timezone.now()
    changes = {"status": to, "updated_at": now, **fields}
    if to == Digest.Status.SENDING and not digest.send_started_at:
        changes.setdefault("send_started_at", now)
    if to == Digest.Status.SENT:
        changes.setdefault("send_finished_at", now)
    updated = Digest.objects.filter(pk=digest.pk, status=current).update(**changes)
    if not updated:
        digest.refresh_from_db(fields=["status"])
        raise TransitionError(
            _("The digest is now “%(status)s”; someone else changed it first.") % {"status": digest.get_status_display()}
        )
    for name, value in changes.items():
        setattr(digest, name, value)
    _announce(digest, current=current, to=to)
    return digest


PROBLEMS_SHOWN = 50


def digest_file_size_error(size: int) -> str | None:
    """Why a digest file of ``size`` bytes is refused before it is read, or None within DIGEST_IMPORT_MAX_BYTES."""
    limit = settings.DIGEST_IMPORT_MAX_BYTES
    if size <= limit:
        return None
    return _("The file is %(size)d bytes; a digest file may be at most %(max)d bytes (DIGEST_IMPORT_MAX_BYTES).") % {
        "size": size,
        "max": limit,
    }


def problems_shown(problems: list[Problem], *, limit: int = PROBLEMS_SHOWN) -> tuple[list[Problem], int]:
    """The first ``limit`` problems to print, and how many more there are."""
    return problems[:limit], max(0, len(problems) - limit)


def _announce(digest: Digest, *, current: str, to: str) -> None:
    """The outgoing webhook for a status change: scheduled, the first start of a send, sent."""
    if to == Digest.Status.SCHEDULED:
        event_emit("digest.scheduled", digest_data(digest))
    elif to == Digest.Status.SENDING and current != Digest.Status.PAUSED:
        event_emit("digest.sending", digest_data(digest))
    elif to == Digest.Status.SENT:
        by_status = Delivery.objects.filter(digest_id=digest.pk).values_list("status").annotate(n=Count("pk")).order_by()
        counts = {"sent": 0, "failed": 0, "skipped": 0}
        for status, n in by_status:
            counts[status if status in counts else "skipped"] += n
        event_emit("digest.sent", digest_data(digest, **counts))


def digest_parse_upload(data: bytes) -> ParsedDigest:
    """Parse uploaded bytes; raises DigestFormatError with line-numbered problems."""
    return digest_parse(data)


@transaction.atomic
def digest_import(parsed: ParsedDigest, *, replace: bool = False, author=None) -> Digest:
    """Create the digest described by ``parsed``, all or nothing.

    Categories are created on first appearance, in file order. An existing
    digest for the same date is an error unless ``replace`` (then its items are
    replaced, provided it has not been sent). Anything the models refuse (a
    title too long, a link the URL validator rejects) raises DigestFormatError
    with the line of the header, section or item concerned; nothing is written.
    """
    edition = Digest.Edition.WEEKLY if parsed.period_start else Digest.Edition.DAILY
    existing = Digest.objects.select_for_update().filter(issue_date=parsed.issue_date, edition=edition).first()
    if existing and not replace:
        if edition == Digest.Edition.WEEKLY:
            exists = _("a weekly edition ending %(date)s already exists (id %(id)s); import with replace to overwrite it")
        else:
            exists = _("a digest for %(date)s already exists (id %(id)s); import with replace to overwrite it")
        raise DigestFormatError([Problem(1, exists % {"date": parsed.issue_date.isoformat(), "id": existing.pk})])
    if existing and not existing.is_editable:
        raise DigestFormatError(
            [
                Problem(
                    1,
                    _("the digest for %(date)s is %(status)s and cannot be replaced")
                    % {"date": parsed.issue_date.isoformat(), "status": existing.get_status_display()},
                )
            ]
        )
    digest = existing or Digest(issue_date=parsed.issue_date, edition=edition)
    digest.period_start = parsed.period_start
    # The one place a digest's file-borne fields are set (the admin upload, the
    # command and any API import come through here).
    digest.title = parsed.title
    digest.subject = parsed.subject
    digest.preheader = parsed.preheader
    digest.intro = parsed.intro
    digest.lead_item = None
    if author is not None and digest.author_id is None:
        digest.author = author

    problems = _validation_problems(digest, line=1, label=_("header"), exclude=["issue_date"] if existing else None)
    problems += _new_category_problems(parsed.sections)
    items: list[tuple[ParsedSection, Item]] = []
    for section in parsed.sections:
        for position, parsed_item in enumerate(section.items):
            item = _item_from(parsed_item, digest=digest, category=None, position=position)
            label = _("item “%(title)s”") % {"title": _shorten(parsed_item.title)}
            problems += _validation_problems(item, line=parsed_item.line, label=label, exclude=["digest", "category"])
            items.append((section, item))
    if problems:
        raise DigestFormatError(sorted(problems, key=lambda problem: problem.line))

    digest.save()
    if existing:
        digest.items.all().delete()
    categories = _categories_for(parsed.sections)
    # The file's order of sections is this issue's order.
    digest.section_order = [categories[section.name].pk for section in parsed.sections]
    digest.save(update_fields=["section_order"])
    for section, item in items:
        item.digest = digest
        item.category = categories[section.name]
    Item.objects.bulk_create([item for _section, item in items])
    if not existing:
        event_emit("digest.created", digest_data(digest, items=len(items)))
    return digest


def _validation_problems(instance, *, line: int, label: str, exclude: list[str] | None = None) -> list[Problem]:
    """The model's own validation errors for ``instance`` as problems on ``line``."""
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        problems = []
        for field_name, messages in exc.message_dict.items():
            if field_name == NON_FIELD_ERRORS:
                where = label
            else:
                where = f"{label}, {instance._meta.get_field(field_name).verbose_name}"
            problems += [Problem(line, f"{where}: {message}") for message in messages]
        return problems
    return []


def _new_category_problems(sections: tuple[ParsedSection, ...]) -> list[Problem]:
    known = set(Category.objects.filter(name__in=[s.name for s in sections]).values_list("name", flat=True))
    problems = []
    for section in sections:
        if section.name not in known:
            label = _("section “%(name)s”") % {"name": _shorten(section.name)}
            # The slug is generated from the name on save; only the name can be wrong here.
            problems += _validation_problems(Category(name=section.name), line=section.line, label=label, exclude=["slug"])
            known.add(section.name)
    return problems


def _shorten(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _categories_for(sections: tuple[ParsedSection, ...]) -> dict[str, Category]:
    known = {c.name: c for c in Category.objects.filter(name__in=[s.name for s in sections])}
    next_position = (Category.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    for section in sections:
        if section.name not in known:
            known[section.name] = Category.objects.create(name=section.name, position=next_position)
            next_position += 1
    return known


def _item_from(parsed: ParsedItem, *, digest: Digest, category: Category | None, position: int) -> Item:
    return Item(
        digest=digest,
        category=category,
        position=position,
        title=parsed.title,
        summary=parsed.summary,
        background=parsed.background,
        key_points=list(parsed.key_points),
        source_name=parsed.source_name,
        source_url=parsed.source_url,
        image_url=parsed.image_url,
        image_alt=parsed.image_alt,
    )


def digest_to_parsed(digest: Digest) -> ParsedDigest:
    """The digest's content as the text format's structure, sections in the issue's own order."""
    items = digest.items.select_related("category").order_by("position", "id")
    sections = [
        ParsedSection(
            name=category.name,
            items=tuple(
                ParsedItem(
                    title=_one_line(item.title),
                    summary=_one_line(item.summary),
                    background=_one_line(item.background),
                    key_points=tuple(_one_line(point) for point in item.key_points if point.strip()),
                    source_name=_one_line(item.source_name),
                    source_url=item.source_url,
                    line=0,
                    image_url=item.image_url,
                    image_alt=_one_line(item.image_alt),
                )
                for item in bucket
            ),
            line=0,
        )
        for category, bucket in items_by_section(items, digest.section_order)
    ]
    return ParsedDigest(
        title=digest.title,
        issue_date=digest.issue_date,
        sections=tuple(sections),
        subject=_one_line(digest.subject),
        preheader=_one_line(digest.preheader),
        intro=_one_line(digest.intro),
        period_start=(digest.period_start or week_of(digest.issue_date)[0]) if digest.is_weekly else None,
    )


def _one_line(text: str) -> str:
    # The Markdown format is line-based; paragraphs typed in the admin are joined.
    return " ".join(text.split())


def digest_export(digest: Digest) -> str:
    """The digest in the seed's Markdown format."""
    return digest_format(digest_to_parsed(digest))


WEEKLY_PREFIX = "weekly:"


def digest_lookup(date_or_id: str) -> Digest:
    """Find a digest by ISO issue date (2026-02-06: the daily), ``weekly:`` and the last day of its week
    (weekly:2026-02-08: the weekly edition) or numeric id; raises Digest.DoesNotExist saying which."""
    edition = Digest.Edition.DAILY
    if date_or_id.lower().startswith(WEEKLY_PREFIX):
        edition, date_or_id = Digest.Edition.WEEKLY, date_or_id[len(WEEKLY_PREFIX) :]
    try:
        issue_date = datetime.date.fromisoformat(date_or_id)
    except ValueError:
        issue_date = None
    if issue_date is not None:
        lookup, missing = (
            {"issue_date": issue_date, "edition": edition},
            (
                _("A weekly edition ending on %(date)s does not exist.")
                if edition == Digest.Edition.WEEKLY
                else _("A digest for %(date)s does not exist.")
            )
            % {"date": issue_date.isoformat()},
        )
    elif date_or_id.isdigit():
        lookup, missing = {"pk": int(date_or_id)}, _("A digest with id %(id)s does not exist.") % {"id": date_or_id}
    else:
        raise Digest.DoesNotExist(_("%(value)r is neither a date (YYYY-MM-DD) nor a digest id.") % {"value": date_or_id})
    try:
        return Digest.objects.get(**lookup)
    except Digest.DoesNotExist:
        raise Digest.DoesNotExist(missing) from None


class DigestDateTaken(ValueError):
    """A digest for that issue date already exists."""


@transaction.atomic
def digest_duplicate(*, digest: Digest, with_items: bool = False, author=None) -> Digest:
    """A new draft dated the day after ``digest``, with its title and its sections in the same order.

    With ``with_items`` every item is copied (category, position and text);
    without, each section gets one empty item to fill in (the issue's
    skeleton), which the pre-send checks refuse to send until it is written.
    Raises DigestDateTaken when that day already has a digest.
    """
    issue_date = digest.issue_date + datetime.timedelta(days=1)
    if Digest.objects.filter(issue_date=issue_date, edition=digest.edition).exists():
        raise DigestDateTaken(_("A digest for %(date)s already exists; open it instead.") % {"date": issue_date.isoformat()})
    copy = Digest.objects.create(
        issue_date=issue_date,
        edition=digest.edition,
        period_start=digest.period_start and digest.period_start + datetime.timedelta(days=1),
        title=digest.title,
        author=author,
    )
    items = list(digest.items.order_by("category__position", "category_id", "position", "id"))
    if with_items:
        copies = [item.copy_into(copy, position=item.position) for item in items]
    else:
        sections = list(dict.fromkeys(item.category_id for item in items))
        copies = [Item(digest=copy, category_id=category_id, position=0) for category_id in sections]
    Item.objects.bulk_create(copies)
    return copy
