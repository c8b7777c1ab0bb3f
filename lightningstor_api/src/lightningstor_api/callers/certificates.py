"""Client certificates as principals: ``[[server.tls.principals]]`` (subject CN or SAN → principal).

gRPC has verified the certificate against ``server.tls.ca_file`` before a call arrives; this maps
what it verified (its auth context) to the configured principal. The first matching entry wins;
an unmapped certificate names nobody (the call needs a token or an access key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lightningstor_types.config import CertificatePrincipalSettings
from lightningstor_types.scope import Principal

CN_KEY = "x509_common_name"
SAN_KEY = "x509_subject_alternative_name"


def _principal(text: str) -> Principal:
    parts = text.split("/")  # "org/id" or "org/project/id", as the config model checks
    return Principal(parts[-1], parts[0], parts[1] if len(parts) == 3 else None)


class CertificatePrincipals:
    """The configured map, asked with a call's auth context."""

    def __init__(self, entries: Iterable[CertificatePrincipalSettings]) -> None:
        self._entries = [(e.subject_cn, e.san, _principal(e.principal)) for e in entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def principal_of(self, auth_context: Mapping[str, Iterable[bytes]]) -> Principal | None:
        """The principal the peer's verified certificate maps to, or None."""
        cns = {v.decode(errors="replace") for v in auth_context.get(CN_KEY, ())}
        sans = {v.decode(errors="replace") for v in auth_context.get(SAN_KEY, ())}
        for cn, san, principal in self._entries:
            if (cn is not None and cn in cns) or (san is not None and san in sans):
                return principal
        return None
