"""A stand-in for digests.rendering.{render,inline,personalise} while that work is not merged.

``install()`` does nothing when the real modules exist. The stand-in keeps the
real API: variants cached per process, premailer run once per variant,
placeholders from PLACEHOLDER_LINKS in the HTML and text.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from html import escape


def install() -> bool:
    if importlib.util.find_spec("digests.rendering.inline") is not None:
        return False
    if "digests.rendering.inline" in sys.modules:
        return True
    from digests.rendering.links import PLACEHOLDER_LINKS

    @dataclass(frozen=True)
    class RenderedEmail:
        subject: str
        preheader: str
        html: str
        text: str

    calls = [0]
    cache: dict = {}

    def variant_inlined(digest, category_ids, *, language=None):
        from digests.models import Item

        key = (digest.pk, digest.updated_at, None if category_ids is None else frozenset(category_ids), language)
        if key in cache:
            return cache[key]
        items = list(Item.objects.filter(digest=digest).select_related("category"))
        if category_ids is not None:
            items = [item for item in items if item.category_id in category_ids]
        if not items:
            cache[key] = None
            return None
        P = PLACEHOLDER_LINKS
        body = "".join(
            f"<h2 class='t'>{escape(item.title)}</h2><p>{escape(item.summary)}</p>\n" for item in items
        )
        html = (
            "<html><head><style>.t{color:#1677ff;font-size:18px}</style></head><body>"
            f"<p>{escape(digest.title)}</p>\n{body}"
            f'<p><a href="{P.preferences_url}?r={P.reader_ref}">偏好设置</a> · <a href="{P.unsubscribe_url}">退订</a></p>'
            "</body></html>"
        )
        try:
            from premailer import Premailer

            html = Premailer(html, allow_network=False, disable_validation=True).transform()
        except ImportError:
            pass
        calls[0] += 1
        text = "\n\n".join(f"{item.title}\n{item.summary}" for item in items)
        text += f"\n\n偏好设置: {P.preferences_url}\n退订: {P.unsubscribe_url}\n"
        rendered = RenderedEmail(subject=digest.title, preheader="", html=html, text=text)
        cache[key] = rendered
        return rendered

    def email_personalise(rendered, links):
        html, text = rendered.html, rendered.text
        for field in ("preferences_url", "unsubscribe_url", "reader_ref"):
            placeholder, value = getattr(PLACEHOLDER_LINKS, field), getattr(links, field)
            html = html.replace(placeholder, escape(value, quote=True))
            text = text.replace(placeholder, value)
        return RenderedEmail(rendered.subject, rendered.preheader, html, text)

    render = types.ModuleType("digests.rendering.render")
    render.RenderedEmail = RenderedEmail
    inline = types.ModuleType("digests.rendering.inline")
    inline.variant_inlined = variant_inlined
    inline.premailer_calls = lambda: calls[0]
    inline.variants_forget = cache.clear
    personalise = types.ModuleType("digests.rendering.personalise")
    personalise.email_personalise = email_personalise
    sys.modules.update(
        {"digests.rendering.render": render, "digests.rendering.inline": inline, "digests.rendering.personalise": personalise}
    )
    return True


if __name__ == "__main__":
    # python -m tests.delivery.fake_rendering celery -A newsletter worker …: a worker with the stand-in.
    install()
    from celery.__main__ import main

    sys.argv = sys.argv[1:]
    sys.exit(main())
