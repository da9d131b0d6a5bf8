"""Admin widgets for digest content."""

from django import forms
from django.utils.translation import gettext_lazy as _


class KeyPointsWidget(forms.Textarea):
    """A textarea holding one key point per line.

    Without JavaScript the editor types one point per line; ``digest-items.js``
    turns it into one input per point with "add point" and "remove" buttons
    that write back into the (then hidden) textarea, so the server only ever
    reads the lines.
    """

    def __init__(self, attrs=None):
        defaults = {
            "rows": 4,
            "class": "vLargeTextField key-points",
            "data-key-points": "",
            "data-add-label": _("Add point"),
            "data-remove-label": _("Remove this point"),
            "data-point-label": _("Key point"),
        }
        super().__init__({**defaults, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(point) for point in value)
        return super().format_value(value)
