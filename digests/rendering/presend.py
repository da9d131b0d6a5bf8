"""Pre-send checks: the problems an editor must see before a digest goes out.

Errors block scheduling (the scheduler refuses a digest with any); warnings are
shown in the admin preview and left to the editor's judgement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from digests.models import Category, Digest
from digests.rendering.inline import variant_inlined
from digests.rendering.render import digest_subject
from digests.rendering.sections import digest_content
from digests.rendering.size import email_html_sent_size

ERROR = "error"
WARNING = "warning"
SUBJECT_MAX_CHARS = 78


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

    subject = digest_subject(digest)
    if len(subject) > SUBJECT_MAX_CHARS:
        problems.append(
            CheckProblem(
                WARNING,
                "long_subject",
                _("The subject is %(count)d characters long; keep it within %(max)d.")
                % {"count": len(subject), "max": SUBJECT_MAX_CHARS},
            )
        )

    if items:
        full = variant_inlined(digest, None)
        size = email_html_sent_size(full)
        if size > settings.EMAIL_SIZE_BUDGET_BYTES:
            problems.append(
                CheckProblem(
                    ERROR,
                    "too_big",
                    _(
                        "The full email is %(size)d bytes once encoded, over the budget of %(budget)d bytes (Gmail clips long emails)."
                    )
                    % {"size": size, "budget": settings.EMAIL_SIZE_BUDGET_BYTES},
                )
            )
    problems.sort(key=lambda problem: problem.level != ERROR)
    return problems


def digest_check_errors(digest: Digest) -> list[CheckProblem]:
    """Only the problems that block sending."""
    return [problem for problem in digest_check(digest) if problem.level == ERROR]
