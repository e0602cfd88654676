"""Shared pieces of the study models: translated texts and their validation."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: Prolific's completion link; a wave's completion code is appended.
PROLIFIC_COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc="

#: Item codes become variable names in SPSS/Stata/R exports: letter first, then letters,
#: digits or underscores, at most 32 characters (Stata's limit).
ITEM_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
SLUG_HELP = "Lower-case letters, digits and hyphens; used in URLs."



def validate_item_code(value: str) -> None:
    if not ITEM_CODE_RE.match(value or ""):
        raise ValidationError(
            _("%(value)r is not a valid variable name: start with a letter, then letters, digits "
              "or underscores, at most 32 characters."),
            params={"value": value},
        )


def validate_translations(value) -> None:
    """A translated text is a JSON object mapping language codes to non-empty strings."""
    if not isinstance(value, dict) or not value:
        raise ValidationError(_('Give the text per language, e.g. {"en": "...", "de": "..."}.'))
    for lang, text in value.items():
        if not isinstance(lang, str) or not isinstance(text, str) or not text.strip():
            raise ValidationError(_("Every language needs a non-empty text (%(lang)s)."), params={"lang": lang})


def translate(texts: dict | None, language: str, fallback: str | None = None) -> str:
    """The text in `language`, else in `fallback`, else in any language; '' when there is none."""
    if not texts:
        return ""
    for lang in (language, (language or "").split("-")[0], fallback):
        if lang and texts.get(lang):
            return texts[lang]
    return next(iter(texts.values()), "")


def default_languages() -> list[str]:
    return ["en"]


def default_reminder_delays() -> list[int]:
    return [24, 72]

