"""S3's CORS rules, checked where they are stored and matched where requests arrive.

A rule allows a request when its Origin matches one of ``allowed_origins`` (each may hold one
``*``, matching any run of characters, case-sensitively), its method (or a preflight's
``Access-Control-Request-Method``) is one of ``allowed_methods``, and every header a preflight
announces matches one of ``allowed_headers`` (one ``*`` each, case-insensitively). The first
rule that allows the request decides the answer, as in S3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lightningstor.v1 import bucket_pb2
from lightningstor_types.errors import InvalidRequest, MalformedXML

MAX_RULES = 100
"""Rules per configuration, as in S3."""
ALLOWED_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
MAX_ID_LENGTH = 255


def validate_cors(config: bucket_pb2.CorsConfiguration) -> None:
    """S3's checks of PutBucketCors: 1 to 100 rules, each with origins and known methods, at
    most one wildcard per origin and per allowed header, a non-negative MaxAgeSeconds."""
    if not config.rules or len(config.rules) > MAX_RULES:
        raise MalformedXML(
            f"A CORS configuration holds 1 to {MAX_RULES} rules, not {len(config.rules)}"
        )
    for rule in config.rules:
        if not rule.allowed_origins or not rule.allowed_methods:
            raise MalformedXML("Each CORSRule needs an AllowedOrigin and an AllowedMethod")
        if len(rule.id) > MAX_ID_LENGTH:
            raise InvalidRequest(f"A CORSRule ID is at most {MAX_ID_LENGTH} characters")
        for method in rule.allowed_methods:
            if method not in ALLOWED_METHODS:
                raise InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for origin in rule.allowed_origins:
            if origin.count("*") > 1:
                raise InvalidRequest(
                    f'AllowedOrigin "{origin}" can not have more than one wildcard.'
                )
        for header in rule.allowed_headers:
            if header.count("*") > 1:
                raise InvalidRequest(
                    f'AllowedHeader "{header}" can not have more than one wildcard.'
                )
        if rule.HasField("max_age_seconds") and rule.max_age_seconds < 0:
            raise MalformedXML("MaxAgeSeconds must not be negative")


def _wildcard(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass(frozen=True, slots=True)
class CorsMatch:
    """The rule that allows a request, and the ``Access-Control-*`` headers it earns."""

    rule: bucket_pb2.CorsRule
    origin: str

    def headers(
        self, *, preflight: bool, request_headers: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        """The response headers (names lower-case) for this match."""
        any_origin = "*" in self.rule.allowed_origins
        out = [("access-control-allow-origin", "*" if any_origin else self.origin)]
        if not any_origin:  # S3 allows credentials whenever the origin is named
            out.append(("access-control-allow-credentials", "true"))
        out.append(("access-control-allow-methods", ", ".join(self.rule.allowed_methods)))
        if preflight and request_headers:
            out.append(("access-control-allow-headers", ", ".join(request_headers)))
        if self.rule.expose_headers:
            out.append(("access-control-expose-headers", ", ".join(self.rule.expose_headers)))
        if self.rule.HasField("max_age_seconds"):
            out.append(("access-control-max-age", str(self.rule.max_age_seconds)))
        return out


def match_rule(
    config: bucket_pb2.CorsConfiguration,
    origin: str,
    method: str,
    request_headers: Sequence[str] = (),
) -> CorsMatch | None:
    """The first rule allowing ``origin`` to send ``method`` with ``request_headers``."""
    wanted = [h.lower() for h in request_headers]
    for rule in config.rules:
        if method not in rule.allowed_methods:
            continue
        if not any(_wildcard(o, origin) for o in rule.allowed_origins):
            continue
        allowed = [h.lower() for h in rule.allowed_headers]
        if all(any(_wildcard(a, h) for a in allowed) for h in wanted):
            return CorsMatch(rule, origin)
    return None
