"""What a value that travels as an HTTP header field may contain, checked on every write path
of both APIs and on S3's ``response-*`` overrides.

A stored value comes back as a response header on every GET and HEAD. HTTP (RFC 9110 §5.5)
allows visible characters, space, tab and obs-text there; the server's HTTP layer refuses to send
any other control character and cuts the connection instead, so a value holding one would make
its object unservable. Such a value is refused when it arrives (:class:`InvalidArgument`).

The website redirect location has S3's own rule too (a prefix of ``/``, ``http://`` or
``https://``, at most 2 KiB; else :class:`InvalidRedirectLocation`), checked here so that both
APIs answer alike.
"""

from __future__ import annotations

import re
from typing import Final

from lightningstor.v1 import common_pb2
from lightningstor_types.errors import InvalidArgument, InvalidRedirectLocation

_FORBIDDEN: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""The control characters (C0 and DEL) other than tab."""
REDIRECT_PREFIXES: Final = ("/", "http://", "https://")
"""What ``x-amz-website-redirect-location`` must start with (S3)."""
REDIRECT_MAX_BYTES: Final = 2048
"""S3's bound on ``x-amz-website-redirect-location``: 2 KiB (UTF-8)."""


def validate_header_value(name: str, value: str) -> None:
    """InvalidArgument naming ``name`` when ``value`` holds a control character other than tab."""
    if _FORBIDDEN.search(value):
        raise InvalidArgument(f"{name} must not contain control characters", ArgumentName=name)


def validate_website_redirect(value: str) -> None:
    """InvalidRedirectLocation unless ``value`` (non-empty: empty is none) starts with ``/``,
    ``http://`` or ``https://`` and holds at most 2 KiB."""
    if value and (
        not value.startswith(REDIRECT_PREFIXES) or len(value.encode()) > REDIRECT_MAX_BYTES
    ):
        raise InvalidRedirectLocation()


def validate_content_headers(headers: common_pb2.ContentHeaders) -> None:
    """Content-Type, -Encoding, -Disposition, -Language, Cache-Control, Expires and the website
    redirect location as stored."""
    for field, value in headers.ListFields():
        if isinstance(value, str):
            validate_header_value(field.name, value)
    validate_website_redirect(headers.website_redirect_location)
