"""Error answers no input turns into a 5xx: the API's JSON error shape under /api/, the page's
error elsewhere, and a friendly 500 page (English, German) that tells a participant whether their
answer was kept.

- `RejectBadInputMiddleware`: a NUL byte in the path or the query string is 400 before any view
  or database sees it (PostgreSQL refuses NUL in text and would answer 500).
- `JsonParser` (the API's JSON parser): bodies above `API_MAX_BODY_BYTES` are 413, deeply nested
  documents and NUL characters in strings are 400, all as ``{"detail": "..."}``.
- `bad_request`, `server_error`: `handler400` / `handler500` of the root URLs.
"""

import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

#: Deepest nesting of a JSON body the API parses (a study's design needs fewer than 10 levels).
MAX_JSON_DEPTH = 64


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _problem(request, status: int, message: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class RejectBadInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or any(
                "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return _problem(request, 400, "The request holds a NUL character, which no field accepts.")
        return self.get_response(request)


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _depth(value, limit: int) -> int:
    """Nesting depth of parsed JSON, without recursion; stops counting past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            if any("\x00" in k for k in item):
                raise exceptions.ParseError("A NUL character is not accepted in any field.")
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str) and "\x00" in item:
            raise exceptions.ParseError("A NUL character is not accepted in any field.")
    return deepest


class JsonParser(JSONParser):
    """DRF's JSON parser with a size limit, a depth limit and no NUL characters (see module doc)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = getattr(settings, "API_MAX_BODY_BYTES", 2_621_440)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLarge(f"The request body has {length} bytes; the API accepts at most {limit}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than the {limit} bytes the API accepts.")
        try:
            text = raw.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
            data = json.loads(text)
        except RecursionError as error:
            raise exceptions.ParseError("The JSON body is nested too deeply.") from error
        except (ValueError, UnicodeDecodeError) as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from error
        if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


def bad_request(request, exception=None):
    """400 (including a body above DATA_UPLOAD_MAX_MEMORY_SIZE): JSON under /api/, else plain text."""
    return _problem(request, 400, _("The request could not be read. Please check what was sent."))


def server_error(request):
    """500: JSON under /api/; elsewhere a page in the visitor's language that says what happened
    to their answer (a page's answers are stored in one transaction: all or nothing)."""
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error; nothing was stored. Please try again."}, status=500)
    kept = getattr(request, "answers_kept", None)  # set by a participant view once its answers committed
    try:
        html = render_to_string("500.html", {"kept": kept, "posted": request.method == "POST"})
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        html = "<h1>Server error (500)</h1><p>Nothing from this page was stored. Please reload the page.</p>"
    return HttpResponse(html, status=500)
