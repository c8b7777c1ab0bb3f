"""What a signed request claims: its credential scope, its time, what it signed and the signature.

Both ways of signing (the ``Authorization`` header and the presigned query) reduce to one
:class:`SignatureClaim`, which :mod:`lightningstor_s3.auth.sigv4` verifies the same way. The
scope ``AKID/YYYYMMDD/REGION/s3/aws4_request`` is checked here, with S3's words for each fault;
``fail`` turns a reason into the error of the mechanism at hand (``AuthorizationHeaderMalformed``
or ``AuthorizationQueryParametersError``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from lightningstor_types.errors import LightningStorError

__all__ = [
    "SERVICE",
    "TERMINATOR",
    "Credential",
    "SignatureClaim",
    "parse_amz_date",
    "parse_credential",
]

SERVICE = "s3"
TERMINATOR = "aws4_request"
_DATE = re.compile(r"\d{8}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

Fail = Callable[..., LightningStorError]
"""``fail(reason, **details)``: the error to raise for a malformed credential."""


@dataclass(frozen=True, slots=True)
class Credential:
    """``AKID/YYYYMMDD/REGION/SERVICE/aws4_request``, parsed and checked."""

    access_key_id: str
    date: str
    region: str

    @property
    def scope(self) -> str:
        """The credential scope without the key: ``YYYYMMDD/REGION/s3/aws4_request``."""
        return f"{self.date}/{self.region}/{SERVICE}/{TERMINATOR}"


@dataclass(frozen=True, slots=True)
class SignatureClaim:
    """Everything a request says about its signature, before the secret is looked up."""

    credential: Credential
    timestamp: str
    """The signing time in ISO 8601 basic form (``20130524T000000Z``), as in the string to sign."""
    signed_headers: tuple[bytes, ...]
    signature: str
    payload_hash: bytes
    """The fifth line of the canonical request: a hex SHA-256, or one of the S3 sentinels."""
    presigned: bool


def parse_credential(value: str, *, region: str, fail: Fail) -> Credential:
    """Parse and check a credential against this endpoint's region and S3's service name."""
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not parts[0]:
        raise fail(
            "the Credential is mal-formed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key_id, date, claimed_region, service, terminator = parts
    if not _DATE.fullmatch(date) or _parse(date, "%Y%m%d") is None:
        raise fail(
            f'incorrect date format "{date}". This date in the credential must be in the '
            'format "yyyyMMdd".'
        )
    if claimed_region != region:
        raise fail(f"the region '{claimed_region}' is wrong; expecting '{region}'", Region=region)
    if service != SERVICE:
        raise fail(f'incorrect service "{service}". This endpoint belongs to "{SERVICE}".')
    if terminator != TERMINATOR:
        raise fail(f'incorrect terminal "{terminator}". This endpoint uses "{TERMINATOR}".')
    return Credential(access_key_id, date, claimed_region)


def parse_amz_date(value: str) -> datetime | None:
    """``20130524T000000Z`` as an aware UTC datetime; None unless exactly that form."""
    if not _AMZ_DATE.fullmatch(value):
        return None
    # Sliced by hand: strptime cost ~3% of a small GET's server time (profiled).
    try:
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:  # month 13, hour 25, …
        return None


@lru_cache(maxsize=256)  # a few dates per day are in use; strptime was ~2% of a small GET
def _parse(value: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None
