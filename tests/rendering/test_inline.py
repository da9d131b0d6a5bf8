"""CSS is inlined once per variant, offline and quietly; readers' copies are substitutions (issue 3)."""

import email
import email.policy
import socket
import threading
import time

import pytest

from digests.links import PLACEHOLDER_LINKS, ReaderLinks
from digests.models import Category, Item
from digests.rendering import premail
from digests.rendering.inline import premailer_calls, variant_inlined, variants_forget
from digests.rendering.personalise import email_personalise
from digests.rendering.premail import PREMAILER_OPTIONS, html_inline
from digests.rendering.render import variant_render
from digests.rendering.size import email_html_encoded_bytes, email_message, html_part
from tests.helpers.html import parse_html


@pytest.fixture(autouse=True)
def _cold_cache():
    variants_forget()
    yield
    variants_forget()


def test_styles_are_inlined_on_the_elements_and_only_media_rules_stay_in_style(seed_digest):
    rendered = variant_render(seed_digest)
    document = parse_html(rendered.html)
    for css_class in ("box", "mh", "brand", "lead", "lt", "sec", "it", "t", "p", "q", "ul", "a", "btn-a", "ft", "fa"):
        elements = document.find_class(css_class)
        assert elements, css_class
        assert all(element.get("style") for element in elements), css_class
    # Links are the darker shade of the accent: 4.5:1 on white or better.
    assert "color:#0958d9" in document.find_class("a")[0].get("style").replace(" ", "")
    styles = document.xpath("//style")
    assert len(styles) == 1 and styles[0].getparent().tag == "head"
    css = styles[0].text.strip()
    # Only what cannot be inlined stays: the dark-mode colour-scheme declaration and the @media rules.
    assert css.startswith(":root") and "color-scheme:light dark" in css.replace(" ", "").replace(":light", ":light ")
    assert "@media (prefers-color-scheme: dark)" in css and "@media only screen and (max-width: 620px)" in css
    assert "!important" in css  # kept, or phone overrides would lose to the inline styles
    assert ".t {" not in css.split("@media", 1)[0]  # nothing but :root before the @media rules


def test_premailer_is_configured_for_email_and_offline():
    assert PREMAILER_OPTIONS["allow_network"] is False
    assert PREMAILER_OPTIONS["allow_loading_external_files"] is False
    assert PREMAILER_OPTIONS["strip_important"] is False
    assert PREMAILER_OPTIONS["keep_style_tags"] is False


@pytest.fixture
def listening_socket():
    """A local TCP server that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn.recv(200))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def test_inlining_never_fetches_external_stylesheets(listening_socket):
    port, connections = listening_socket
    html = f"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="http://127.0.0.1:{port}/linked.css">
<style>@import url(http://127.0.0.1:{port}/imported.css); @import "http://127.0.0.1:{port}/quoted.css";
p {{ color: #123456; }}</style></head><body><p>正文</p></body></html>"""
    inlined = html_inline(html)
    time.sleep(0.2)
    assert connections == []
    assert f"127.0.0.1:{port}" not in inlined  # a mail client will not fetch it either
    assert 'style="color:#123456"' in inlined
    assert "正文" in inlined


def test_inlining_prints_nothing_even_for_mso_properties(seed_digest, capfd):
    capfd.readouterr()
    html_inline(
        "<html><head><style>p { mso-line-height-rule: exactly; mso-hide: all; colr: red; }</style></head><body><p>x</p></body></html>"
    )
    variant_render(seed_digest)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_premailer_runs_once_per_variant_however_many_readers(seed_digest):
    before = premailer_calls()
    categories = frozenset(Category.objects.filter(name="政策与监管").values_list("pk", flat=True))
    copies = []
    for index in range(500):
        variant = variant_inlined(seed_digest, categories)
        copies.append(email_personalise(variant, ReaderLinks(f"https://x/p/{index}/", f"https://x/u/{index}/", f"r{index}")))
    assert premailer_calls() - before == 1
    assert len({copy.html for copy in copies}) == 500
    variant_inlined(seed_digest, None)
    variant_inlined(seed_digest, None)
    assert premailer_calls() - before == 2


def test_each_language_is_its_own_variant(seed_digest):
    before = premailer_calls()
    english = variant_inlined(seed_digest, None, language="en")
    chinese = variant_inlined(seed_digest, None, language="zh-hans")
    variant_inlined(seed_digest, None, language="en")
    assert premailer_calls() - before == 2
    assert 'lang="en"' in english.html and 'lang="zh-Hans"' in chinese.html


def test_editing_the_digest_renders_the_variant_again(seed_digest):
    first = variant_inlined(seed_digest, None)
    item = Item.objects.filter(digest=seed_digest).first()
    item.title = "更正后的标题"
    item.save()
    from digests.models import Digest

    fresh = Digest.objects.get(pk=seed_digest.pk)  # a new request or batch loads the digest again
    second = variant_inlined(fresh, None)
    assert "更正后的标题" in second.html and "更正后的标题" not in first.html


def test_a_variant_without_items_is_none_and_cached(seed_digest):
    empty = Category.objects.create(name="机器人")
    before = premailer_calls()
    assert variant_inlined(seed_digest, frozenset({empty.pk})) is None
    assert variant_inlined(seed_digest, frozenset({empty.pk})) is None
    assert premailer_calls() == before


def test_personalising_equals_rendering_with_the_readers_links(seed_digest):
    links = ReaderLinks("https://news.example.com/p/a:b/?x=1&y=2", "https://news.example.com/u/a:b/", "ref-1")
    personalised = email_personalise(variant_inlined(seed_digest, None), links)
    direct = variant_render(seed_digest, None, links)
    assert personalised == direct
    assert "PLACEHOLDER" not in personalised.html + personalised.text


def test_personalising_a_copy_costs_well_under_a_millisecond(seed_digest):
    variant = variant_inlined(seed_digest, None)
    rounds = 2000
    started = time.perf_counter()
    for index in range(rounds):
        email_personalise(variant, ReaderLinks(f"https://x/p/{index}/", f"https://x/u/{index}/", f"r{index}"))
    per_copy = (time.perf_counter() - started) / rounds
    assert per_copy < 0.0005


def test_the_seed_email_stays_far_below_gmails_clipping_limit(seed_digest):
    rendered = email_personalise(
        variant_inlined(seed_digest, None),
        ReaderLinks("https://news.example.com/p/" + "x" * 80 + "/", "https://news.example.com/u/" + "x" * 80 + "/", "r" * 60),
    )
    part = html_part(rendered)
    assert part["Content-Transfer-Encoding"] == "8bit"  # short lines keep Chinese out of quoted-printable
    encoded = email_html_encoded_bytes(rendered)
    assert len(encoded) < 60_000
    raw = email_message(rendered).message().as_bytes()
    assert max(len(line) for line in raw.split(b"\n")) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("html",)).get_content() == rendered.html


def test_very_long_paragraphs_are_folded_without_changing_what_is_shown(seed_digest):
    item = Item.objects.filter(digest=seed_digest).first()
    item.summary = "长" * 2000 + " tail " + "word " * 400
    item.key_points = ["点" * 1500]
    item.save()
    rendered = variant_render(seed_digest, frozenset({item.category_id}))
    assert max(len(line.encode()) for line in rendered.html.split("\n")) <= 998
    assert html_part(rendered)["Content-Transfer-Encoding"] == "8bit"
    shown = parse_html(rendered.html).find_class("p")[0].text_content()
    assert "".join(shown.split()) == "长" * 2000 + "tail" + "word" * 400
    points = parse_html(rendered.html).find_class("ul")[0].xpath("./li")
    assert "".join(points[0].text_content().split()) == "点" * 1500


def test_placeholders_survive_inlining_untouched(seed_digest):
    html = variant_inlined(seed_digest, None).html
    assert PLACEHOLDER_LINKS.preferences_url in html and PLACEHOLDER_LINKS.unsubscribe_url in html
    assert premail.premailer_calls() >= 1
