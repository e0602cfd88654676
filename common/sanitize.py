"""Researcher-written rich text (interventions, consent, completion text) made safe for
participants' pages: an allow-list of tags and attributes kept by `nh3` (ammonia), applied when
the text is saved and again when it is rendered, so a text stored before a rule changed is still
cleaned on its way out.

Allowed: paragraphs and line breaks, emphasis, lists, headings h2-h4, block quotes, links
(http, https and mailto only; they open with rel="noopener noreferrer"). Everything else,
including scripts, styles, event-handler attributes and `javascript:` URLs, is removed.
"""

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "b", "i", "u", "ul", "ol", "li", "h2", "h3", "h4",
                          "blockquote", "a"})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitize_html(text: str) -> str:
    """`text` with only the allowed tags, attributes and link schemes left."""
    return nh3.clean(text or "", tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer")


def sanitize_translations(texts: dict | None) -> dict:
    """A translated text (``{"en": "...", "de": "..."}``) with every language sanitized."""
    return {language: sanitize_html(text) if isinstance(text, str) else text
            for language, text in (texts or {}).items()}
