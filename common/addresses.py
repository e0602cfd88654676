"""The client's address for throttling (failed logins): REMOTE_ADDR, or behind
`TRUSTED_PROXY_COUNT` reverse proxies the address the outermost trusted proxy saw (counted from
the right of X-Forwarded-For, so a client cannot choose it by sending its own header)."""

from django.conf import settings


def client_address(request) -> str:
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-proxies] if len(forwarded) >= proxies else remote
