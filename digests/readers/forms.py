"""Forms for the public reader pages; the rules themselves live in normalise.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from digests.models import Subscriber
from digests.readers.categories import active_categories, active_categories_read
from digests.readers.normalise import MAX_ADDRESS, MAX_NAME, email_normalise, name_clean
from digests.readers.preferences import timezone_choices

HONEYPOT = "website"


class _CachedChoiceIterator(forms.models.ModelChoiceIterator):
    """The choices from the field's queryset itself, so a page that already read it (the initial
    ticks) renders without a second query through a server-side cursor."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class CategoryChoiceField(forms.ModelMultipleChoiceField):
    iterator = _CachedChoiceIterator

    def _set_queryset(self, queryset):
        # Django's own setter keeps ``queryset.all()``, a copy without the rows: a queryset already
        # read (the cached active categories, ``active_categories_read``) is kept as it is.
        self._queryset = queryset
        self.widget.choices = self.choices

    queryset = property(forms.ModelMultipleChoiceField._get_queryset, _set_queryset)

    def _check_values(self, value):
        """The chosen categories, in the order the form offers them, from one read of the (few) active ones.

        Django's own check builds a query per value to test its type, then reads the chosen
        ones; this reads the active categories once (the same read the empty form shows).
        """
        offered = {str(category.pk): category for category in self.queryset}
        for chosen in value:
            if str(chosen) not in offered:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": chosen}
                )
        wanted = {str(chosen) for chosen in value}
        return [category for key, category in offered.items() if key in wanted]

    def __init__(self, **kwargs):
        super().__init__(
            queryset=active_categories(),
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label=_("Categories"),
            **kwargs,
        )


class FrequencyFieldsMixin(forms.Form):
    """How often and, for the weekly edition, which weekday: the same two fields on signup and preferences."""

    frequency = forms.ChoiceField(
        label=_("How often"),
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        required=False,
        widget=forms.RadioSelect,
    )
    weekly_day = forms.ChoiceField(
        label=_("Weekly edition on"),
        choices=Subscriber.Weekday.choices,
        initial=Subscriber.Weekday.SAT,
        required=False,
        help_text=_("The weekly edition gathers the week’s dailies; it arrives on this day at your usual time."),
    )

    # None when not sent (a page from before the choice existed): what the
    # reader has, or the default, stays.
    def clean_frequency(self):
        return self.cleaned_data.get("frequency") or None

    def clean_weekly_day(self):
        return self.cleaned_data.get("weekly_day") or None


class SignupForm(FrequencyFieldsMixin, forms.Form):
    # type="text" with inputmode="email": browsers' type="email" refuses
    # internationalised mailboxes (用户@例子.中国) that we accept.
    email = forms.CharField(
        label=_("Email address"),
        strip=False,
        widget=forms.TextInput(
            attrs={
                "inputmode": "email",
                "autocomplete": "email",
                "maxlength": MAX_ADDRESS,
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
        error_messages={"required": _("Enter your email address.")},
    )
    name = forms.CharField(
        label=_("Name (optional)"),
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "name", "maxlength": MAX_NAME}),
    )
    categories = CategoryChoiceField(help_text=_("Choose what you want to read; you can change it later."))
    # The honeypot: hidden from people (and screen readers), filled in by bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = active_categories_read()
        if not self.is_bound:
            self.fields["categories"].initial = [c.pk for c in self.fields["categories"].queryset]

    def clean_email(self):
        return email_normalise(self.cleaned_data["email"])

    def clean_name(self):
        return name_clean(self.cleaned_data.get("name"))

    def clean_categories(self):
        chosen = self.cleaned_data.get("categories")
        if not chosen and self.fields["categories"].queryset.exists():
            raise forms.ValidationError(_("Choose at least one category."), code="no_category")
        return chosen

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT))


def signup_choices_key() -> str:
    """What the empty signup form shows that can change while the site runs: the active categories.
    The signup page is rendered once per process, language and value of this (``render_once``)."""
    return "|".join(f"{category.pk}:{category.name}" for category in active_categories_read())


class PreferencesForm(FrequencyFieldsMixin, forms.Form):
    categories = CategoryChoiceField()
    timezone = forms.ChoiceField(label=_("Time zone"), required=False)
    language = forms.ChoiceField(label=_("Language of the emails"), choices=Subscriber.Language.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = active_categories_read()
        self.fields["timezone"].choices = [("", _("The site’s time zone"))] + [(tz, tz) for tz in timezone_choices()]

    def clean_categories(self):
        chosen = self.cleaned_data.get("categories")
        if not chosen and self.fields["categories"].queryset.exists():
            raise forms.ValidationError(
                _("Choose at least one category, or unsubscribe below if you want no more emails."), code="no_category"
            )
        return chosen
