"""Template filters for study texts kept per language (``Study.title_i18n``, ``description_i18n``)."""

from django import template
from django.utils import translation

register = template.Library()


@register.filter
def local_title(study) -> str:
    """The study's title in the page's language, else its default language's."""
    return study.title_in(translation.get_language() or "") if study is not None else ""


@register.filter
def local_description(study) -> str:
    """The study's description in the page's language, else its default language's."""
    return study.description_in(translation.get_language() or "") if study is not None else ""
