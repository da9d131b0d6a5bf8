"""Whole public pages rendered once per process, each visitor's own token, nonce and path filled in.

The signup page and its "check your inbox" answer are what a signup spike
hits, and the template engine costs more than the rest of such a request,
even with ``{% rendered_once %}`` fragments. ``render_once`` renders a page
once per process, language and key (what else the page shows that may change
while the site runs, e.g. the active categories), with stand-ins where the
visitor's CSRF token, CSP nonce and path go, then serves every visitor that
text with their own values put in. Settings changes forget every page, as
they forget the fragments.

Only for pages whose text is decided by the template, the key, the language
and settings. A page rendered once sees ``request`` as a stand-in that knows
only ``csp_nonce``, ``get_full_path`` and ``path``: a template that reads
anything else about the visitor fails loudly instead of freezing one
visitor's data into everyone's page.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.html import escape
from django.utils.translation import get_language

from digests.rendering.once import rendered_fragments

# Random per process: no text a page shows (a category's name, a translation) can contain one.
_SLOT = secrets.token_hex(12)
CSRF_SLOT, NONCE_SLOT, PATH_SLOT = (f"{name}{_SLOT}" for name in ("csrfslot", "nonceslot", "pathslot"))


class PageReadsTheVisitor(RuntimeError):
    """A page rendered once asked for something about the visitor that would be frozen into every copy."""


class _StandInRequest:
    def __init__(self, request: HttpRequest):
        self.path = request.path

    csp_nonce = NONCE_SLOT

    def get_full_path(self) -> str:
        return PATH_SLOT

    def __getattr__(self, name: str):
        raise PageReadsTheVisitor(f"a page rendered once reads request.{name}; render it per request instead")


def render_once(
    request: HttpRequest, template_name: str, *, key: tuple = (), context: Callable[[], dict] | None = None
) -> HttpResponse:
    """``render(request, template_name, context())``, the template rendered once per process, language,
    path and ``key``; ``context`` is called only then."""
    parts = "\x1f".join(str(part) for part in (template_name, get_language(), request.path, *key))
    cache_key = "page:" + hashlib.sha256(parts.encode()).hexdigest()
    page = rendered_fragments.get(cache_key)
    if page is None:
        stand_ins = {"request": _StandInRequest(request), "csrf_token": CSRF_SLOT}
        page = render(request, template_name, {**(context() if context else {}), **stand_ins}).content.decode()
        rendered_fragments.set(cache_key, page)
    if CSRF_SLOT in page:
        page = page.replace(CSRF_SLOT, get_token(request))
    if NONCE_SLOT in page:
        page = page.replace(NONCE_SLOT, str(request.csp_nonce))
    if PATH_SLOT in page:
        page = page.replace(PATH_SLOT, escape(request.get_full_path()))
    return HttpResponse(page)
