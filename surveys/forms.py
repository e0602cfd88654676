"""Participant forms. Answer fields are named ``i_<item code>``; a slider's "don't know" box is
``i_<code>_dk``. Radio and number inputs are rendered by templates/surveys/_item.html so that
every input has a label and every error is tied to its field."""

from __future__ import annotations

import hashlib
import json
import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from surveys.models import Item, Response
from surveys.services import TEXT_MAX_LENGTH, Answer

DONT_KNOW = "dk"
FIELD_PREFIX = "i_"
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def _fingerprint(item: Item) -> str:
    """Changes whenever anything that shapes the item's form field changes (the template caches
    the unanswered question's HTML under it)."""
    content = [item.code, item.kind, item.prompt, item.labels, item.scale_min, item.scale_max, item.step,
               item.dont_know, TEXT_MAX_LENGTH]
    return hashlib.blake2b(json.dumps(content, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


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


def _option_values(item: Item) -> frozenset[str]:
    values = getattr(item, "_option_values", None)
    if values is None:
        values = item._option_values = frozenset(_label(v) for v in item.scale_values())
    return values


def quick_answers(data, items: list[Item]) -> dict[str, Answer] | None:
    """The page's answers, as `AnswerPageForm(data, items=items).answers()` gives them, when every
    answer is one of the options shown (or "don't know") or a text within the limit; None for
    anything else (a slider, a missing or foreign answer...), which then goes through the form
    with its checks and messages. The usual page skips building a form (bench/submit.py)."""
    result = {}
    for item in items:
        raw = data.get(FIELD_PREFIX + item.code)
        if item.kind in (Item.Kind.LIKERT, Item.Kind.CHOICE):
            if raw == DONT_KNOW and item.dont_know:
                result[item.code] = Answer(missing=Response.Missing.DONT_KNOW)
            elif raw in _option_values(item):
                result[item.code] = Answer(value=float(raw))
            else:
                return None
        elif item.kind == Item.Kind.TEXT and (raw is None or isinstance(raw, str)):
            text = (raw or "").strip()
            if len(text) > TEXT_MAX_LENGTH or "\x00" in text:
                return None
            result[item.code] = Answer(text=text) if text else Answer(missing=Response.Missing.SKIPPED)
        else:
            return None
    expected = {FIELD_PREFIX + item.code for item in items}
    if any(key.startswith(FIELD_PREFIX) and key not in expected for key in data):
        return None
    return result


class AnswerPageForm(forms.Form):
    """One page of items. `answers()` gives the service's Answer per item code."""

    def __init__(self, *args, items: list[Item], language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        self.language = language
        for item in items:
            name = FIELD_PREFIX + item.code
            if item.kind in (Item.Kind.LIKERT, Item.Kind.CHOICE):
                labels = item.value_labels(language)
                choices = [(_label(v), labels.get(_label(v), "")) for v in item.scale_values()]
                if item.dont_know:
                    choices.append((DONT_KNOW, _("Don't know")))
                self.fields[name] = forms.ChoiceField(
                    choices=choices, widget=forms.RadioSelect,
                    error_messages={"required": _("Please choose an answer."),
                                    "invalid_choice": _("Please choose one of the options shown.")})
            elif item.kind == Item.Kind.SLIDER:
                off_scale = _("Please give a value from %(min)s to %(max)s in steps of %(step)s.") % {
                    "min": _label(item.scale_min), "max": _label(item.scale_max), "step": _label(item.step)}
                self.fields[name] = forms.FloatField(
                    required=False, min_value=item.scale_min, max_value=item.scale_max, step_size=item.step,
                    error_messages={"invalid": _("Please give a number."), "min_value": off_scale,
                                    "max_value": off_scale, "step_size": off_scale})
                if item.dont_know:
                    self.fields[name + "_dk"] = forms.BooleanField(required=False, label=_("Don't know"))
            else:
                self.fields[name] = forms.CharField(
                    required=False, max_length=TEXT_MAX_LENGTH, strip=True, widget=forms.Textarea,
                    error_messages={"max_length": _("Please shorten your answer to at most %(limit_value)d "
                                                    "characters (it has %(show_value)d).")})

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
            name = FIELD_PREFIX + item.code
            if item.kind == Item.Kind.SLIDER and name in cleaned:
                dk = cleaned.get(name + "_dk")
                if cleaned[name] is None and not dk:
                    if item.dont_know:
                        self.add_error(name, _("Please give a number, or tick \"don't know\"."))
                    else:
                        self.add_error(name, _("Please give a number."))
                elif cleaned[name] is not None and dk:
                    self.add_error(name, _("Please either give a number or tick \"don't know\", not both."))
        return cleaned

    def answers(self) -> dict[str, Answer]:
        result = {}
        for item in self.items:
            raw = self.cleaned_data.get(FIELD_PREFIX + item.code)
            if item.kind == Item.Kind.TEXT:
                result[item.code] = Answer(text=raw) if raw else Answer(missing=Response.Missing.SKIPPED)
            elif item.kind == Item.Kind.SLIDER:
                dk = self.cleaned_data.get(FIELD_PREFIX + item.code + "_dk")
                result[item.code] = Answer(missing=Response.Missing.DONT_KNOW) if dk else Answer(value=raw)
            elif raw == DONT_KNOW:
                result[item.code] = Answer(missing=Response.Missing.DONT_KNOW)
            else:
                result[item.code] = Answer(value=float(raw))
        return result

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for code, messages in errors.items():
            field = None if code == "__all__" else FIELD_PREFIX + code
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    def rows(self) -> list[dict]:
        """What the template needs per item, in page order."""
        rows = []
        for item in self.items:
            name = FIELD_PREFIX + item.code
            bound = self[name]
            row = {"item": item, "name": name, "field": bound, "id": f"q-{item.code}", "fingerprint": _fingerprint(item),
                   "prompt": item.prompt_in(self.language), "kind": item.kind,
                   "errors": bound.errors, "value": bound.value() if self.is_bound else None}
            if item.kind in (Item.Kind.LIKERT, Item.Kind.CHOICE):
                selected = str(bound.value() or "")
                row["options"] = [
                    {"value": value, "text": text, "id": f"q-{item.code}-{value}", "checked": value == selected,
                     "number": value if value != DONT_KNOW else "", "dk": value == DONT_KNOW,
                     "endpoint": item.kind == Item.Kind.LIKERT}
                    for value, text in bound.field.choices
                ]
            elif item.kind == Item.Kind.SLIDER:
                labels = item.value_labels(self.language)
                row.update({"min": _label(item.scale_min), "max": _label(item.scale_max), "step": _label(item.step),
                            "min_label": labels.get(_label(item.scale_min), ""),
                            "max_label": labels.get(_label(item.scale_max), ""),
                            "dk_name": name + "_dk" if item.dont_know else "",
                            "dk_checked": bool(self.is_bound and self.data.get(name + "_dk"))})
            else:
                row["maxlength"] = TEXT_MAX_LENGTH
            rows.append(row)
        return rows
