"""What a new version or upload part is sealed with (SSE-S3, SSE-KMS with its key and
encryption context, SSE-C), checked as S3 checks a request's encryption fields, and which keys
open what a stored version or upload holds."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.encryption import customer as sse_c
from lightningstor_api.encryption.keymaster import ChosenKey, KeyManager, UnknownKeyError
from lightningstor_types.errors import (
    InvalidArgument,
    InvalidRequest,
    KMSNotFoundException,
    NotImplemented_,
)

SSE_S3 = "AES256"
"""Server-side encryption with the server's active master key (SSE-S3)."""
SSE_KMS = "aws:kms"
"""Server-side encryption with a master key the request (or bucket default) names (SSE-KMS)."""

Encrypted = records_pb2.ObjectRecord | records_pb2.UploadRecord
"""The records that carry a version's encryption fields (an upload's go to its version)."""

_CONTEXT_HEADER = "x-amz-server-side-encryption-context"


@dataclass(frozen=True, slots=True)
class Sealing:
    """The encryption of content about to be written: ``keys`` seals it (None: clear); the rest
    is what the version records and reports. ``customer_key`` is never stored."""

    sse: str = ""
    kms_key_id: str = ""
    kms_context: str = ""
    customer_algorithm: str = ""
    customer_key_md5: str = ""
    customer_key: bytes = b""
    key_check: bytes = b""
    keys: KeyManager | None = None

    def stamp(self, rec: Encrypted) -> None:
        """Record this encryption on a version or an upload."""
        rec.server_side_encryption = self.sse
        rec.kms_key_id = self.kms_key_id
        rec.kms_context = self.kms_context
        rec.sse_customer_algorithm = self.customer_algorithm
        rec.sse_customer_key_md5 = self.customer_key_md5
        rec.sse_customer_key_hmac = self.key_check

    def etag(self, md5_hex: str) -> str:
        """The quoted ETag of content with this MD5: the MD5 itself, except under SSE-C (keyed
        by the customer's key) and SSE-KMS (random), which, as S3's, are not the MD5."""
        if self.customer_key:
            return f'"{sse_c.opaque_etag(self.customer_key, md5_hex)}"'
        if self.sse == SSE_KMS:
            return f'"{os.urandom(16).hex()}"'
        return f'"{md5_hex}"'

    def shares_with(self, rec: Encrypted) -> bool:
        """Whether content stored as ``rec`` is already sealed as this asks, so a copy may
        share its chunks (never across customer keys: an SSE-C copy always re-seals)."""
        if self.customer_key or rec.sse_customer_key_hmac:
            return False
        mine = (self.sse, self.kms_key_id, self.kms_context)
        return mine == (rec.server_side_encryption, rec.kms_key_id, rec.kms_context)


async def requested(
    keymaster: KeyManager | None,
    bucket: records_pb2.BucketRecord,
    sse: str,
    kms_key_id: str = "",
    kms_context: str = "",
    customer_key: common_pb2.CustomerKey | None = None,
) -> Sealing:
    """The sealing a write asks for (``x-amz-server-side-encryption``, its KMS key id and
    context, or an SSE-C key), else the bucket's default; S3's errors for what does not fit,
    all raised before any byte is read."""
    if sse_c.given(customer_key):
        assert customer_key is not None
        if sse:
            raise InvalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the "
                "encryption method specified",
                ArgumentName="x-amz-server-side-encryption",
            )
        key = sse_c.check_customer_key(customer_key)
        return Sealing(
            customer_algorithm=customer_key.algorithm,
            customer_key_md5=customer_key.key_md5,
            customer_key=key,
            key_check=sse_c.key_check(key),
            keys=sse_c.customer_keys(key),
        )
    if (kms_key_id or kms_context) and sse != SSE_KMS:
        raise InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            ArgumentName=(
                "x-amz-server-side-encryption-aws-kms-key-id" if kms_key_id else _CONTEXT_HEADER
            ),
        )
    if not sse and bucket.HasField("encryption"):
        sse = bucket.encryption.sse_algorithm
        kms_key_id = bucket.encryption.kms_master_key_id if sse == SSE_KMS else ""
    if sse == SSE_KMS:
        return await kms(keymaster, kms_key_id, kms_context)
    if not sse:
        return Sealing()
    if sse.startswith("aws:kms"):
        raise NotImplemented_(
            "Dual-layer SSE-KMS is not implemented", Header="x-amz-server-side-encryption"
        )
    if sse != SSE_S3:
        raise InvalidArgument(
            "The encryption method specified is not supported",
            ArgumentName="x-amz-server-side-encryption",
            ArgumentValue=sse,
        )
    return Sealing(sse=SSE_S3, keys=_configured(keymaster))


async def kms(keymaster: KeyManager | None, key_id: str, context: str = "") -> Sealing:
    """SSE-KMS under the named master key (the active one when none is named; ``alias/``
    stripped) and encryption context; KMS.NotFoundException when there is no such key."""
    master = _configured(keymaster)
    chosen = key_id.removeprefix("alias/") or master.active_key
    bound = context_bytes(context)
    try:  # asked before the body is read: a wrong key id costs no upload
        await master.wrap(chosen, bytes(32))
    except UnknownKeyError:
        raise KMSNotFoundException(f"Invalid keyId {key_id}") from None
    return Sealing(
        sse=SSE_KMS, kms_key_id=chosen, kms_context=context, keys=ChosenKey(master, chosen, bound)
    )


def inherited(keymaster: KeyManager | None, source: records_pb2.ObjectRecord) -> Sealing:
    """A copy that asks for no encryption in a bucket without a default keeps the source's
    SSE-S3 or SSE-KMS; an SSE-C source's copy gets SSE-S3 (clear without master keys), since
    its key stays with the request that gave it."""
    if source.sse_customer_key_hmac:
        return Sealing(sse=SSE_S3, keys=keymaster) if keymaster is not None else Sealing()
    return of_record(keymaster, source)


def of_record(keymaster: KeyManager | None, rec: Encrypted) -> Sealing:
    """The SSE-S3 or SSE-KMS sealing a version or upload was made with (not SSE-C)."""
    if rec.server_side_encryption == SSE_KMS:
        keys = ChosenKey(_configured(keymaster), rec.kms_key_id, context_bytes(rec.kms_context))
        return Sealing(
            sse=SSE_KMS, kms_key_id=rec.kms_key_id, kms_context=rec.kms_context, keys=keys
        )
    if rec.server_side_encryption:
        return Sealing(sse=rec.server_side_encryption, keys=_configured(keymaster))
    return Sealing()


def part_copy_target(
    keymaster: KeyManager | None, seal: Sealing, source: records_pb2.ObjectRecord
) -> Sealing:
    """What a part copied from ``source`` into an upload sealed as ``seal`` is written with. A
    clear upload does not unseal a sealed source: its part stays under the server's keys,
    shared when the source's chunks open without anything the object would not carry (SSE-S3,
    SSE-KMS without a context), else re-sealed (an SSE-C source, a KMS context)."""
    sealed = bool(source.server_side_encryption or source.sse_customer_key_hmac)
    if seal.keys is not None or not sealed or keymaster is None:
        return seal
    if source.sse_customer_key_hmac or source.kms_context:
        return Sealing(keys=keymaster)
    return Sealing(sse=source.server_side_encryption, kms_key_id=source.kms_key_id, keys=keymaster)


def for_part(
    keymaster: KeyManager | None,
    upload: records_pb2.UploadRecord,
    customer_key: common_pb2.CustomerKey | None,
) -> Sealing:
    """How a part of ``upload`` is sealed: an SSE-C upload's part must carry the key its
    CreateMultipartUpload gave (InvalidRequest without it or with another), any other part
    none."""
    if not upload.sse_customer_key_hmac:
        if sse_c.given(customer_key):
            raise InvalidRequest("The encryption parameters are not applicable to this object.")
        return of_record(keymaster, upload)
    if customer_key is None or not sse_c.given(customer_key):
        raise InvalidRequest(
            "The multipart upload initiate requested encryption. Subsequent part requests "
            "must include the appropriate encryption parameters."
        )
    key = sse_c.check_customer_key(customer_key)
    if not sse_c.matches(upload.sse_customer_key_hmac, key):
        raise InvalidRequest(
            "The provided encryption parameters did not match the ones used originally."
        )
    return Sealing(
        customer_algorithm=upload.sse_customer_algorithm,
        customer_key_md5=upload.sse_customer_key_md5,
        customer_key=key,
        key_check=upload.sse_customer_key_hmac,
        keys=sse_c.customer_keys(key),
    )


def read_keys(
    keymaster: KeyManager | None,
    rec: records_pb2.ObjectRecord,
    customer_key: common_pb2.CustomerKey | None,
) -> KeyManager | None:
    """The keys that open a version's chunks, after the SSE-C key check
    (:func:`customer.keys_for_read`); an SSE-KMS version's under its encryption context."""
    own = sse_c.keys_for_read(rec, customer_key)
    if own is not None:
        return own
    if rec.kms_context and keymaster is not None:
        return ChosenKey(keymaster, rec.kms_key_id, context_bytes(rec.kms_context))
    return keymaster


def context_bytes(context: str) -> bytes:
    """The encryption context as authenticated with the data keys (its JSON); InvalidArgument
    unless it is base64 of a JSON object of strings, as S3 requires."""
    if not context:
        return b""
    try:
        raw = base64.b64decode(context, validate=True)
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError too
        doc = None
    if not (
        isinstance(doc, dict)
        and doc
        and all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items())
    ):
        raise InvalidArgument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 "
            "string holding JSON which represents a string-string map",
            ArgumentName=_CONTEXT_HEADER,
        )
    return raw


def _configured(keymaster: KeyManager | None) -> KeyManager:
    if keymaster is None:
        raise InvalidRequest("Server-side encryption is not configured on this server")
    return keymaster
