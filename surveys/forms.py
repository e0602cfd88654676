"""Participant forms. Answer fields are named ``i_<item code>``; a slider's "don't know" box is
``i_<code>_dk``. Each item's field(s) and partial come from its kind (surveys/kinds.py); the
partials (templates/surveys/kinds/) give every input a label and tie every error to its field."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from surveys import groups
from surveys.kinds import Answer, kind_of
from surveys.models import Item

FIELD_PREFIX = "i_"
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _external_id_field() -> forms.CharField:
    return forms.CharField(
        required=False, max_length=128, widget=forms.HiddenInput,
        validators=[RegexValidator(
            EXTERNAL_ID_RE, _("The link you followed carries a malformed Prolific id. Please use the link from Prolific."))],
    )


class ProlificParamsForm(forms.Form):
    """PROLIFIC_PID, STUDY_ID and SESSION_ID as Prolific appends them to the study link."""

    PROLIFIC_PID = _external_id_field()
    STUDY_ID = _external_id_field()
    SESSION_ID = _external_id_field()


class ConsentForm(ProlificParamsForm):
    consent_version = forms.IntegerField(widget=forms.HiddenInput)
    agree = forms.BooleanField(
        label=_("I have read the information above and agree to take part."),
        error_messages={"required": _("Please tick the box to agree, or close this page if you do not want to take part.")},
    )
    # Offered only when the study collects e-mail (collect_email=True); stored apart from answers.
    email = forms.EmailField(
        required=False, max_length=254, label=_("Your e-mail address (optional)"),
        help_text=_("Only for invitations to the next waves and reminders. It is stored apart from your "
                    "answers, never exported, and deleted when you withdraw or unsubscribe."),
        error_messages={"invalid": _("Please enter a valid e-mail address, or leave the field empty.")},
    )
    email_consent = forms.BooleanField(
        required=False, label=_("I agree to receive e-mails about the waves of this study."),
    )

    def __init__(self, *args, collect_email: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.collect_email = collect_email
        if not collect_email:
            del self.fields["email"]
            del self.fields["email_consent"]

    def clean(self):
        cleaned = super().clean()
        if self.collect_email and cleaned.get("email") and not cleaned.get("email_consent"):
            self.add_error("email_consent", _("Please tick the box to receive e-mails, or leave the address empty."))
        return cleaned


class EmailLinkForm(forms.Form):
    """ "E-mail me this link": an address to send the personal link to, used once and not stored,
    unless the study collects addresses for its invitations and the participant agrees."""

    link_email = forms.EmailField(
        max_length=254, label=_("Your e-mail address"),
        help_text=_("We send the link once to this address and do not keep it."),
        error_messages={"required": _("Please enter your e-mail address."),
                        "invalid": _("Please enter a valid e-mail address.")},
    )
    link_email_consent = forms.BooleanField(
        required=False, label=_("Also use this address for invitations to the next waves of this study."))

    def __init__(self, *args, offer_invitations: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not offer_invitations:
            del self.fields["link_email_consent"]
        else:
            self.fields["link_email"].help_text = _(
                "We send the link to this address. It is kept only if you tick the box below.")


class ContinueForm(ProlificParamsForm):
    """A returning Prolific participant: no consent again, just a fresh link."""


class WithdrawForm(forms.Form):
    delete_answers = forms.BooleanField(
        required=False, label=_("Also delete all my answers"),
        help_text=_("Without this, the answers you gave so far are kept for research under your pseudonym."),
    )


class PreviewForm(forms.Form):
    wave = forms.ModelChoiceField(queryset=None, label=_("Wave"), empty_label=None)
    arm = forms.ModelChoiceField(queryset=None, label=_("Arm"), required=False, empty_label=_("(no arm)"))
    language = forms.ChoiceField(label=_("Language"))

    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wave"].queryset = study.waves.order_by("number")
        self.fields["wave"].label_from_instance = lambda w: _("Wave %(n)s (%(state)s)") % {
            "n": w.number, "state": w.get_state_display()}
        self.fields["arm"].queryset = study.arms.all()
        self.fields["language"].choices = [(code, code) for code in study.languages]


def quick_answers(data, items: list[Item]) -> dict[str, Answer] | None:
    """The page's answers, as `AnswerPageForm(data, items=items).answers()` gives them, when every
    answer is one of the options shown (or "don't know") or a text within the limit; None for
    anything else (a slider, a missing or foreign answer...), which then goes through the form
    with its checks and messages. The usual page skips building a form (bench/submit.py)."""
    result = {}
    for item in items:
        answer = kind_of(item).input.quick(item, data.get(FIELD_PREFIX + item.code))
        if answer is None:
            return None
        result[item.code] = answer
    expected = {FIELD_PREFIX + item.code for item in items}
    if any(key.startswith(FIELD_PREFIX) and key not in expected for key in data):
        return None
    return result


class AnswerPageForm(forms.Form):
    """One page of items, each asked as its kind says (surveys/kinds.py). `answers()` gives the
    service's Answer per item code."""

    def __init__(self, *args, items: list[Item], language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        self.language = language
        for item in items:
            kind_of(item).input.add_fields(self.fields, item, FIELD_PREFIX + item.code, language)
        groups.add_fields(self.fields, items, FIELD_PREFIX)

    def clean(self):
        cleaned = super().clean()
        if self.data:
            expected = set(self.fields)
            foreign = sorted(k for k in self.data if k.startswith(FIELD_PREFIX) and k not in expected)
            if foreign:
                raise forms.ValidationError(
                    _("The form contained answers to questions that are not on this page (%(codes)s).")
                    % {"codes": ", ".join(k[len(FIELD_PREFIX):][:40] for k in foreign[:5])})
        for item in self.items:
            kind_of(item).input.clean(self, item, FIELD_PREFIX + item.code, cleaned)
        groups.clean(self, self.items, FIELD_PREFIX, cleaned)
        return cleaned

    def answers(self) -> dict[str, Answer]:
        answers = {item.code: kind_of(item).input.answer(item, FIELD_PREFIX + item.code, self.cleaned_data)
                   for item in self.items}
        answers.update(groups.answers(self.items, FIELD_PREFIX, self.cleaned_data))
        return answers

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for code, messages in errors.items():
            field = None if code == "__all__" else FIELD_PREFIX + code
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    def rows(self) -> list[dict]:
        """What the template needs per item, in page order: the common row and the kind's own; a
        group's members as one row of the group (surveys/groups.py)."""
        rows = []
        for item in self.items:
            kind = kind_of(item)
            name = FIELD_PREFIX + item.code
            bound = self[name]
            row = {"item": item, "name": name, "field": bound, "id": f"q-{item.code}", "template": kind.template,
                   "prompt": item.prompt_in(self.language), "kind": item.kind,
                   "optional": item.optional and not kind.free_text,
                   "errors": bound.errors, "value": bound.value() if self.is_bound else None}
            row.update(kind.input.context(item, name, bound, self))
            rows.append(row)
        return groups.group_rows(rows, self, FIELD_PREFIX)
