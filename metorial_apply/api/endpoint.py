"""Where a client may send the API key, and what a key must look like: checked before anything
is sent."""

from __future__ import annotations

import ipaddress

import httpx

from metorial_apply.core.errors import ApiKeyError, InsecureTransportError, UsageError


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str) -> httpx.URL:
    """An http(s) base URL; plain http only to a loopback host, since the key would travel in clear."""
    try:
        url = httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UsageError("--api-url must be an http(s) URL or `local`") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError("--api-url must be an http(s) URL or `local`")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise InsecureTransportError(
            f"refusing to send the API key over plain http to {url.host}; use https "
            "(plain http is allowed only for 127.0.0.1, ::1 and localhost)"
        )
    if url.userinfo or url.query:
        raise UsageError("--api-url must not contain credentials or a query string")
    return url


def check_api_key(api_key: str | None) -> str:
    """A present, header-safe key; the message names where it comes from, never its value."""
    if not api_key:
        raise ApiKeyError("no API key: set METORIAL_API_KEY or pass --api-key (a secret key, metorial_sk_…)")
    if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
        raise ApiKeyError("the API key contains whitespace or non-printable characters; check METORIAL_API_KEY")
    return api_key
