"""Server-side SVG charts: no JavaScript, no network, readable in any browser and in tests.

Every label goes through XML escaping (category names and titles are
editor-typed, usually Chinese); the result is a complete ``<svg>`` element.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext as _

from digests.feedback.statistics import ClickCount, DigestStats, GrowthDay

FONT = "-apple-system, 'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
BAR_COLOURS = ("#2b6cb0", "#2f855a", "#c05621")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)} '
        f'font-family={quoteattr(FONT)} font-size="13">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def bar_chart_svg(title: str, bars: Sequence[tuple[str, int]], *, width: int = 640, note: str = "") -> str:
    """Horizontal bars, one per (label, value), each labelled with its number."""
    label_w, row_h, top = 180, 28, 34
    plot_w = width - label_w - 70
    top_value = max([value for _label, value in bars] + [1])
    height = top + row_h * len(bars) + (28 if note else 10)
    body = [f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * row_h
        bar_w = round(plot_w * value / top_value) if value else 0
        body.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="{BAR_COLOURS[0]}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        body.append(f'<text x="{label_w + bar_w + 6}" y="{y + 17}" class="value">{value}</text>')
    if note:
        body.append(f'<text x="0" y="{height - 8}" font-size="11" fill="#555">{escape(note)}</text>')
    return _svg(width, height, title, body)


def funnel_svg(stats: DigestStats) -> str:
    """A digest's delivery funnel: audience → sent → delivered → opened → clicked, plus losses."""
    bars = [
        (_("Audience"), stats.audience),
        (_("Sent"), stats.sent),
        (_("Delivered"), stats.delivered),
        (_("Unique opens (approx.)"), stats.unique_opens),
        (_("Unique clicks"), stats.unique_clicks),
        (_("Bounced (hard)"), stats.bounced_hard),
        (_("Bounced (soft)"), stats.bounced_soft),
        (_("Complaints"), stats.complained),
        (_("Unsubscribes"), stats.unsubscribed),
    ]
    return bar_chart_svg(_("Delivery funnel"), bars, note=_("Opens are approximate: privacy proxies pre-fetch images."))


def category_clicks_svg(rows: Sequence[ClickCount]) -> str:
    """Unique clicking readers per category."""
    return bar_chart_svg(_("Unique clicks per category"), [(row.label, row.unique_readers) for row in rows])


def growth_svg(days: Sequence[GrowthDay], *, width: int = 760, height: int = 280) -> str:
    """Subscribes, confirmations and unsubscribes per day as grouped bars, with a legend."""
    title = _("List growth")
    series = [
        (_("Subscribes"), [d.subscribes for d in days]),
        (_("Confirmations"), [d.confirmations for d in days]),
        (_("Unsubscribes"), [d.unsubscribes for d in days]),
    ]
    left, right, top, bottom = 40, 10, 50, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([v for _name, values in series for v in values] + [1])
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot / (len(series) + 1), 1)
    body = [f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i, (name, _values) in enumerate(series):
        x = left + i * 150
        body.append(f'<rect x="{x}" y="28" width="12" height="12" fill="{BAR_COLOURS[i]}"/>')
        body.append(f'<text x="{x + 16}" y="39">{escape(name)}</text>')
    base_y = top + plot_h
    body.append(f'<line x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}" stroke="#888"/>')
    body.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{top_value}</text>')
    body.append(f'<text x="{left - 6}" y="{base_y}" text-anchor="end" font-size="11">0</text>')
    label_every = max(1, len(days) // 10)
    for d_index, day in enumerate(days):
        x0 = left + d_index * slot
        for s_index, (name, values) in enumerate(series):
            value = values[d_index]
            h = round(plot_h * value / top_value, 1)
            body.append(
                f'<rect x="{x0 + s_index * bar_w:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h}" '
                f'fill="{BAR_COLOURS[s_index]}"><title>{day.day.isoformat()} {escape(name)}: {value}</title></rect>'
            )
        if d_index % label_every == 0:
            body.append(f'<text x="{x0:.1f}" y="{base_y + 16}" font-size="11">{day.day.strftime("%m-%d")}</text>')
    return _svg(width, height, title, body)
