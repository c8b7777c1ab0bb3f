"""A small, fast SigV4 signer (header and presigned-URL forms): the load generator's and
``lightningstor presign``'s.

The signing key (four HMACs) is derived once per UTC day; the ``x-amz-date`` string once per
second. What is left per request is one SHA-256 of a short canonical request and one HMAC, a few
microseconds. Payload hashes are the caller's: the load generator sends the same body many times
and hashes it once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

__all__ = ["EMPTY_SHA256", "UNSIGNED_PAYLOAD", "Signer", "canonical_query", "uri_path"]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"


def uri_path(bucket: str, key: str = "") -> str:
    """The path-style request path of ``bucket``/``key``, URI-encoded as SigV4 signs it."""
    if not key:
        return "/" + quote(bucket, safe="")
    return "/" + quote(bucket, safe="") + "/" + quote(key, safe="/")


def canonical_query(params: dict[str, str]) -> str:
    """The query string, encoded and sorted as SigV4 wants it (and sent exactly so)."""
    return "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in sorted(params.items())
    )


class Signer:
    """Signs requests for one access key, region and service."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        region: str = "us-east-1",
        service: str = "s3",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access_key = access_key
        self._secret = secret_key.encode("utf-8")
        self.region = region
        self.service = service
        self._day = ""
        self._key = b""
        self._scope = ""
        self._clock = clock
        self._second = -1
        self._amz_date = ""

    def _now(self) -> str:
        second = int(self._clock())
        if second != self._second:
            self._second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            day = self._amz_date[:8]
            if day != self._day:
                key = hmac.digest(b"AWS4" + self._secret, day.encode(), hashlib.sha256)
                for part in (self.region, self.service, "aws4_request"):
                    key = hmac.digest(key, part.encode(), hashlib.sha256)
                self._day, self._key = day, key
                self._scope = f"{day}/{self.region}/{self.service}/aws4_request"
        return self._amz_date

    def _signature(self, amz_date: str, canonical_request: str) -> str:
        digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        to_sign = f"{ALGORITHM}\n{amz_date}\n{self._scope}\n{digest}"
        return hmac.digest(self._key, to_sign.encode("utf-8"), hashlib.sha256).hex()

    def headers(
        self,
        method: str,
        path: str,
        query: str,
        host: str,
        payload_hash: str,
        extra: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, str]:
        """``(x-amz-date, Authorization)`` for a request signing host, date and payload hash
        (and the ``extra`` headers, lower-case names sorting after ``x-amz-date``).

        ``path`` and ``query`` are sent exactly as given (see :func:`uri_path` and
        :func:`canonical_query`); ``host`` is the Host header (``127.0.0.1:9000``).
        """
        amz_date = self._now()
        signed = _SIGNED_HEADERS + "".join(f";{name}" for name, _ in extra)
        lines = "".join(f"{name}:{value}\n" for name, value in extra)
        canonical = (
            f"{method}\n{path}\n{query}\nhost:{host}\nx-amz-content-sha256:{payload_hash}\n"
            f"x-amz-date:{amz_date}\n{lines}\n{signed}\n{payload_hash}"
        )
        signature = self._signature(amz_date, canonical)
        auth = (
            f"{ALGORITHM} Credential={self.access_key}/{self._scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return amz_date, auth

    def presign(self, method: str, path: str, host: str, *, expires: int = 3600) -> str:
        """The ``path?query`` of a presigned URL (only ``host`` signed, payload unsigned)."""
        amz_date = self._now()
        params = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{self.access_key}/{self._scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        query = canonical_query(params)
        canonical = f"{method}\n{path}\n{query}\nhost:{host}\n\nhost\n{UNSIGNED_PAYLOAD}"
        signature = self._signature(amz_date, canonical)
        return f"{path}?{query}&X-Amz-Signature={signature}"
