"""`{{ text|researcher_text }}`: researcher-written rich text (interventions, consent, completion
text) through the allow-list of `common.sanitize`, on its way to a participant's page. Text is
sanitized when saved as well; this second pass cleans text stored before a rule changed. Plain
text comes out escaped (`<` as `&lt;`), so it reads as written."""

from django import template
from django.utils.safestring import mark_safe

from common.sanitize import sanitize_html

register = template.Library()


@register.filter(is_safe=True)
def researcher_text(value) -> str:
    return mark_safe(sanitize_html(str(value or "")))  # noqa: S308 - sanitized by the allow-list just above
