"""History entries that name fields in the reader's admin language.

Django stores a change's field labels untranslated and translates them when
the history is shown; but a model field's label is its verbose name with a
capital first letter ("Position"), which no catalogue holds, so it stayed
English. Stored here are the verbose names themselves ("position"), which the
catalogues translate ("位置").
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.utils import translation


def _label_names(form) -> dict[str, str]:
    """{the label Django stores: the msgid to store instead} for a form's fields."""
    names = {}
    model = getattr(getattr(form, "_meta", None), "model", None)
    with translation.override(None):
        for name, field in form.fields.items():
            stored = str(field.label or name)
            try:
                names[stored] = str(model._meta.get_field(name).verbose_name) if model else stored
            except FieldDoesNotExist:
                names[stored] = stored
    return names


def history_fields_translatable(message: list[dict], form, formsets) -> list[dict]:
    """``construct_change_message``'s list with each field named by its translatable verbose name."""
    names = _label_names(form)
    for formset in formsets or ():
        for inline_form in formset.forms[:1]:
            names.update(_label_names(inline_form))
    for entry in message:
        changed = entry.get("changed")
        if changed and "fields" in changed:
            changed["fields"] = [names.get(label, label) for label in changed["fields"]]
    return message


class TranslatableHistoryMixin:
    """For a ModelAdmin: log entries whose field names follow the admin's language when shown."""

    def construct_change_message(self, request, form, formsets, add=False):
        return history_fields_translatable(super().construct_change_message(request, form, formsets, add), form, formsets)
