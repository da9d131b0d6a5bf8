"""Helpers for browser tests of the digest change page."""

from __future__ import annotations


def item_block(page, title: str):
    """The item whose title bar or fields show ``title``."""
    return page.locator(".digest-items .inline-related.has_original").filter(has_text=title).first


def open_item(page, title: str):
    """The item, expanded if the compact editor shows it collapsed."""
    block = item_block(page, title)
    if "item-collapsed" in (block.get_attribute("class") or ""):
        block.locator(".item-toggle").click()
    return block
