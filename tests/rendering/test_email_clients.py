"""The email against caniemail's support data (npm doiuse-email): nothing a reader needs depends on a
feature a major client drops; the features used that some client lacks are listed here with why that
is harmless."""

import re

import pytest

from digests.rendering.render import variant_render
from tests.helpers.html import parse_html
from tests.helpers.node import node_json, node_modules_path

pytestmark = pytest.mark.django_db

CLIENTS = ["gmail.*", "apple-mail.*", "outlook.*", "yahoo.*", "samsung-email.*"]

# Every feature some major client lacks, and what that client shows instead.
ACCEPTED = {
    "@media": "phone padding and dark-mode colours; without them the 600px light layout shows, which is readable",
    "<body> element": "only margin:0 sits on <body>; a client that drops it keeps its own margin",
    "display:none": "preheader hiding; max-height:0, font-size:1px, opacity and mso-hide hide it elsewhere",
    "opacity": "preheader hiding, as above",
    "overflow": "preheader hiding, as above",
    "role attribute": "role=presentation on layout tables helps screen readers; ignored, the table still lays out",
    "border-radius": "rounded corners on the lead's button and code; square corners elsewhere",
    "Local anchors": "the contents list jumps to a section; where it does not, the names still list what is inside",
}

SCRIPT = """
const { doIUseEmail } = require("./node_modules/doiuse-email/index.cjs");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { html, clients } = JSON.parse(input);
  const result = doIUseEmail(html, { emailClients: clients });
  process.stdout.write(JSON.stringify({ errors: result.errors || [] }));
});
"""


def _unsupported(html: str) -> dict[str, set[str]]:
    node_modules_path("doiuse-email")
    errors = node_json(SCRIPT, {"html": html, "clients": CLIENTS})["errors"]
    features: dict[str, set[str]] = {}
    for error in errors:
        match = re.match(r"`(.+?)` is not supported by `(.+?)`", error)
        assert match, error
        features.setdefault(match.group(1), set()).add(match.group(2))
    return features


@pytest.mark.parametrize("fixture", ["seed_digest", "hard_digest", "weekly_digest"])
def test_only_accepted_gracefully_degrading_features_lack_support(fixture, request):
    digest = request.getfixturevalue(fixture)
    rendered = variant_render(digest)
    unsupported = _unsupported(rendered.html)
    assert set(unsupported) <= set(ACCEPTED), {k: v for k, v in unsupported.items() if k not in ACCEPTED}
    # The seed did use these before; they are still the only ones (today's list, kept honest).
    assert "Local anchors" in unsupported and "@media" in unsupported


def test_what_readers_need_works_without_the_degrading_features(seed_digest):
    document = parse_html(variant_render(seed_digest).html)
    # Every item's link is absolute (never a local anchor) and each item is reachable by scrolling.
    for link in document.xpath("//a[contains(@class,'rm')]"):
        assert link.get("href").startswith(("https://", "http://"))
    # Colours and widths a reader needs are inline, not only in the <style> block that Outlook and Gmail
    # mobile web drop; the layout is tables with an MSO fixed width.
    assert all(el.get("style") for el in document.find_class("t") + document.find_class("p"))
    assert document.xpath("//table[@role='presentation']")
    # No background images carry meaning.
    assert "background-image" not in variant_render(seed_digest).html
