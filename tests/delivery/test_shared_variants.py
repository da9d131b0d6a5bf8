"""premailer runs at most once per variant per send, however many worker processes share the send."""

import multiprocessing
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from digests.models import Digest, Item
from digests.rendering import inline
from digests.rendering.inline import premailer_calls, variant_inlined, variants_forget

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _cold_cache():
    if not settings.CACHE_URL.startswith("redis"):
        # locmem is per process, and the file cache's add() is not atomic between processes.
        pytest.skip("needs Redis (CACHE_URL=redis://…): the render lock relies on an atomic add")
    variants_forget()
    yield
    variants_forget()


def _render_in_child(digest_id, start, results):
    start.wait(10)
    before = premailer_calls()
    rendered = variant_inlined(Digest.objects.get(pk=digest_id), None)
    results.put((premailer_calls() - before, rendered.html))
    connections.close_all()


def _render_in_processes(digest, n):
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    connections.close_all()  # every child opens its own database connection
    children = [context.Process(target=_render_in_child, args=(digest.pk, start, results)) for _ in range(n)]
    for child in children:
        child.start()
    start.set()  # all at once: they race for the same cold variant
    outcomes = [results.get(timeout=30) for _ in children]
    for child in children:
        child.join(10)
    return outcomes


def test_two_processes_rendering_the_same_variant_call_premailer_once_in_total(seed_digest):
    outcomes = _render_in_processes(seed_digest, 2)
    assert sum(calls for calls, _ in outcomes) == 1
    assert outcomes[0][1] == outcomes[1][1]
    # A third process (here: this one) finds it too and renders nothing.
    before = premailer_calls()
    assert variant_inlined(Digest.objects.get(pk=seed_digest.pk), None).html == outcomes[0][1]
    assert premailer_calls() == before


def test_editing_an_item_makes_the_next_send_render_the_variant_again(seed_digest):
    first = variant_inlined(seed_digest, None)
    item = Item.objects.filter(digest=seed_digest).first()
    item.title = "更正后的标题"
    item.save()
    outcomes = _render_in_processes(seed_digest, 2)
    assert sum(calls for calls, _ in outcomes) == 1
    assert all("更正后的标题" in html for _, html in outcomes) and "更正后的标题" not in first.html


def test_a_lock_left_by_a_dead_process_expires_and_another_process_renders(seed_digest):
    key = inline._cache_key(seed_digest, None, None)
    cache.set(inline._shared_key(key) + ":lock", "a worker that was killed", timeout=1)
    before, started = premailer_calls(), time.monotonic()
    rendered = variant_inlined(seed_digest, None)
    assert rendered is not None and premailer_calls() - before == 1
    assert 0.5 <= time.monotonic() - started < 5
