"""CSS inlining with premailer, configured for email and safe with editor content."""

from __future__ import annotations

import logging
import re
import threading

from lxml import html as lxml_html
from premailer import Premailer

from digests.rendering.lines import html_fold_lines

_calls = 0
_calls_lock = threading.Lock()

# Every option that matters for safety and for mail clients, in one place (tests assert them).
PREMAILER_OPTIONS = {
    # Never fetch anything: editor content must not make the server request URLs.
    "allow_network": False,
    "allow_loading_external_files": False,
    # Only rules that cannot be inlined (@media) stay in the <style> block...
    "keep_style_tags": False,
    # ...and they keep !important, or phone overrides lose to the inline styles.
    "strip_important": False,
    "disable_link_rewrites": True,
    "remove_classes": False,
    "disable_validation": True,
    # An image keeps its explicit height attribute; the CSS height:auto only scales it on phones.
    "disable_basic_attributes": ["height"],
    # cssutils warns about mso-* properties email needs; nothing may reach stderr.
    "cssutils_logging_level": logging.CRITICAL,
}


def premailer_calls() -> int:
    """How many times this process has run premailer (for tests and the benchmark)."""
    return _calls


_IMPORT = re.compile(r"@import\b[^;]*;?", re.IGNORECASE)


def _without_external_css(html: str) -> str:
    """``html`` without <link rel=stylesheet> elements and without @import rules.

    premailer leaves such links in place when it may not fetch them (a mail
    client would then fetch them instead), and cssutils fetches @import URLs
    itself whatever premailer's allow_network says; both are removed outright.
    """
    lowered = html.lower()
    if "<link" not in lowered and "@import" not in lowered:
        return html
    document = lxml_html.document_fromstring(html)
    for link in document.xpath("//link"):
        if "stylesheet" in (link.get("rel") or "").lower().split():
            link.drop_tree()
    for style in document.xpath("//style"):
        style.text = _IMPORT.sub("", style.text or "")
    doctype = document.getroottree().docinfo.doctype
    body = lxml_html.tostring(document, encoding="unicode", method="html")
    return f"{doctype}\n{body}" if doctype else body


def html_inline(html: str) -> str:
    """Inline the document's <style> CSS into style attributes; keep @media in <style>; fold long lines."""
    global _calls
    with _calls_lock:
        _calls += 1
    html = _without_external_css(html)
    inlined = Premailer(html, **PREMAILER_OPTIONS).transform(pretty_print=True)
    return html_fold_lines(inlined)
