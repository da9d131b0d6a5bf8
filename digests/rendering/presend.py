"""Pre-send checks: the problems an editor must see before a digest goes out.

Errors block scheduling (the scheduler refuses a digest with any); warnings are
shown in the admin preview and left to the editor's judgement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from digests.content.markup import markup_links, markup_unbalanced
from digests.models import Category, Digest
from digests.rendering.inline import variant_inlined
from digests.rendering.lines import text_width
from digests.rendering.render import SUBJECT_MAX_COLUMNS, digest_subject, lead_content, variant_preheader
from digests.rendering.sections import digest_content
from digests.rendering.size import email_sent_size

ERROR = "error"
WARNING = "warning"
# Mail apps show about this much of the preview text; longer is cut on the phone.
PREHEADER_MAX_CHARS = 110


@dataclass(frozen=True)
class CheckProblem:
    level: str  # "error" | "warning"
    code: str
    message: str
    item_id: int | None = None


def digest_check(digest: Digest) -> list[CheckProblem]:
    """Every problem found in ``digest``, errors first; an empty list means it may be sent."""
    problems: list[CheckProblem] = []
    content = digest_content(digest)
    items = [item for section in content.sections for item in section.items]
    if not items:
        problems.append(CheckProblem(ERROR, "no_items", _("The digest has no items.")))

    by_url: dict[str, list] = defaultdict(list)
    for item in items:
        if not item.raw_source_url:
            problems.append(
                CheckProblem(ERROR, "no_source", _("“%(title)s” has no source link.") % {"title": item.title}, item.pk)
            )
        elif not item.source_url:
            problems.append(
                CheckProblem(
                    ERROR,
                    "bad_source",
                    _("“%(title)s”: the source link %(url)s is not an http(s) link and would not be shown.")
                    % {"title": item.title, "url": item.raw_source_url},
                    item.pk,
                )
            )
        else:
            by_url[item.source_url.rstrip("/")].append(item)
        if not item.source_name:
            problems.append(
                CheckProblem(WARNING, "no_source_name", _("“%(title)s” has no source name.") % {"title": item.title}, item.pk)
            )
    for url, same in by_url.items():
        for item in same[1:]:
            problems.append(
                CheckProblem(
                    WARNING,
                    "duplicate_source",
                    _("“%(title)s” links to the same source as “%(first)s”: %(url)s")
                    % {"title": item.title, "first": same[0].title, "url": url},
                    item.pk,
                )
            )

    used = {section.category_id for section in content.sections}
    for category in Category.objects.filter(is_active=True).exclude(pk__in=used):
        problems.append(
            CheckProblem(
                WARNING,
                "empty_category",
                _("The category “%(name)s” has no items in this digest; its readers who chose only it get no email.")
                % {"name": category.name},
            )
        )

    problems += _subject_and_preheader_problems(digest, content)
    problems += _content_problems(digest, content, items)

    if items:
        full = variant_inlined(digest, None)
        size = email_sent_size(full)
        if size > settings.EMAIL_SIZE_BUDGET_BYTES:
            problems.append(
                CheckProblem(
                    ERROR,
                    "too_big",
                    _("The whole email is %(size)d bytes as sent, over the budget of %(budget)d bytes (Gmail clips long emails).")
                    % {"size": size, "budget": settings.EMAIL_SIZE_BUDGET_BYTES},
                )
            )
    problems.sort(key=lambda problem: problem.level != ERROR)
    return problems


def _subject_and_preheader_problems(digest: Digest, content) -> list[CheckProblem]:
    problems = []
    subject = digest_subject(digest, content.sections)
    if not digest.subject.strip():
        problems.append(
            CheckProblem(
                WARNING,
                "no_subject",
                _("No subject set; the generated one will be used: %(subject)s") % {"subject": subject},
            )
        )
    if text_width(subject) > SUBJECT_MAX_COLUMNS:
        problems.append(
            CheckProblem(
                WARNING,
                "long_subject",
                _("The subject is %(count)d columns wide (a Chinese character counts two); keep it within %(max)d.")
                % {"count": text_width(subject), "max": SUBJECT_MAX_COLUMNS},
            )
        )
    if not digest.preheader.strip():
        preheader = variant_preheader(digest, content.sections)
        problems.append(
            CheckProblem(
                WARNING,
                "no_preheader",
                _("No preheader set; the generated one will be used: %(preheader)s") % {"preheader": preheader},
            )
        )
    elif len(" ".join(digest.preheader.split())) > PREHEADER_MAX_CHARS:
        problems.append(
            CheckProblem(
                WARNING,
                "long_preheader",
                _("The preheader is %(count)d characters long; mail apps show about %(max)d.")
                % {"count": len(" ".join(digest.preheader.split())), "max": PREHEADER_MAX_CHARS},
            )
        )
    return problems


def _content_problems(digest: Digest, content, items) -> list[CheckProblem]:
    """http:// sources and links, unbalanced inline markup, a lead without 说明, images without alt or https."""
    problems = []
    lead = lead_content(digest, content.sections)
    if lead is not None and not lead.summary:
        problems.append(
            CheckProblem(
                WARNING, "lead_without_summary", _("The lead story “%(title)s” has no 说明.") % {"title": lead.title}, lead.pk
            )
        )
    for item in items:
        if item.source_url.lower().startswith("http://"):
            problems.append(
                CheckProblem(
                    WARNING,
                    "http_source",
                    _("“%(title)s”: the source link is not https: %(url)s") % {"title": item.title, "url": item.source_url},
                    item.pk,
                )
            )
        texts = [item.summary, item.background, *item.key_points]
        for url in (url for text in texts for url in markup_links(text)):
            if url.lower().startswith("http://"):
                problems.append(
                    CheckProblem(
                        WARNING,
                        "http_link",
                        _("“%(title)s”: a link in the text is not https: %(url)s") % {"title": item.title, "url": url},
                        item.pk,
                    )
                )
        for text in texts:
            unbalanced = markup_unbalanced(text)
            if unbalanced:
                problems.append(
                    CheckProblem(
                        WARNING,
                        "unbalanced_markup",
                        _("“%(title)s”: unclosed formatting %(marks)s is shown as typed: %(text)s")
                        % {"title": item.title, "marks": " ".join(unbalanced), "text": text[:80]},
                        item.pk,
                    )
                )
        if item.raw_image_url:
            if not item.raw_image_url.lower().startswith("https://"):
                problems.append(
                    CheckProblem(
                        WARNING,
                        "image_not_https",
                        _("“%(title)s”: the image is not an https link and many mail apps will not show it: %(url)s")
                        % {"title": item.title, "url": item.raw_image_url},
                        item.pk,
                    )
                )
            if not item.image_alt:
                problems.append(
                    CheckProblem(
                        WARNING,
                        "image_without_alt",
                        _("“%(title)s”: the image has no description (alt text).") % {"title": item.title},
                        item.pk,
                    )
                )
    return problems


def digest_check_errors(digest: Digest) -> list[CheckProblem]:
    """Only the problems that block sending."""
    return [problem for problem in digest_check(digest) if problem.level == ERROR]
