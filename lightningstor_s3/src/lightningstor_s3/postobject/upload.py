"""POST Object: a browser's HTML form upload to ``POST /{bucket}``, authorized by the SigV4
signature of its POST policy rather than by the request's head.

Order: the fields before the file are read (bounded), the policy's signature is checked with
the key of ``x-amz-credential``, the policy's expiration and conditions are checked against the
fields, and only then does the file's data stream to the service as it arrives; the
``content-length-range`` condition is enforced while it streams, so a file out of range is
refused before anything is committed.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote, urlencode

from lightningstor.v1 import object_pb2
from lightningstor_s3 import acl_xml, objectlock_xml, sse_c, xml, xml_in
from lightningstor_s3 import headers as hdr
from lightningstor_s3.auth.credential import parse_amz_date, parse_credential
from lightningstor_s3.auth.signing_key import hmac_sha256_hex, signing_key
from lightningstor_s3.conditions import form_facts
from lightningstor_s3.exchange import Exchange
from lightningstor_s3.postobject.form import FormReader
from lightningstor_s3.postobject.policy import check_policy, parse_policy
from lightningstor_s3.unsupported import form_headers, refuse_unsupported_form
from lightningstor_s3.xml import el
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    AccessDenied,
    EntityTooLarge,
    EntityTooSmall,
    InvalidAccessKeyId,
    InvalidArgument,
    LightningStorError,
    SignatureDoesNotMatch,
)
from lightningstor_types.scope import Principal
from lightningstor_types.service import CredentialResolver, RequestContext, StorageService

ALGORITHM = "AWS4-HMAC-SHA256"
_CONTENT_FIELDS = (
    "content-type", "cache-control", "content-disposition", "content-encoding",
    "content-language", "expires", "x-amz-website-redirect-location",
)  # fmt: skip


@dataclass(slots=True)
class PostResponse:
    location: str
    bucket: str
    key: str
    etag: str = el("ETag")


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name)
    if value is None:
        raise InvalidArgument(
            f"Bucket POST must contain a field named '{name}'.  If it is specified, please "
            "check the order of the fields.",
            ArgumentName=name,
        )
    return value


def _basename(filename: str) -> str:
    # Old browsers send the client's full path ("C:\\Users\\x\\a.txt"): S3 keeps the last part.
    return PureWindowsPath(PurePosixPath(filename).name).name


async def _in_range(
    data: AsyncIterator[bytes], bounds: tuple[int, int] | None
) -> AsyncIterator[bytes]:
    """The file's bytes, refused (before the commit) once outside content-length-range."""
    size = 0
    async for piece in data:
        size += len(piece)
        if bounds is not None and size > bounds[1]:
            raise EntityTooLarge(ProposedSize=str(size), MaxSizeAllowed=str(bounds[1]))
        yield piece
    if bounds is not None and size < bounds[0]:
        raise EntityTooSmall(ProposedSize=str(size), MinSizeAllowed=str(bounds[0]))


class FormUploads:
    """Serves POST Object for one S3 listener."""

    def __init__(
        self, service: StorageService, credentials: CredentialResolver, settings: Settings
    ) -> None:
        self._service = service
        self._credentials = credentials
        self._region = settings.s3.region
        self._proxies = settings.server.trusted_proxies

    async def _principal(self, fields: dict[str, str]) -> Principal:
        """The owner of the key whose signature of the policy the form carries."""
        if "policy" not in fields and "x-amz-signature" not in fields:
            raise AccessDenied("Anonymous form uploads are not accepted")
        algorithm = _required(fields, "x-amz-algorithm")
        if algorithm != ALGORITHM:
            raise InvalidArgument(
                f'X-Amz-Algorithm only supports "{ALGORITHM}"',
                ArgumentName="x-amz-algorithm",
                ArgumentValue=algorithm,
            )

        def fail(reason: str, **details: str) -> LightningStorError:
            return InvalidArgument(f"Invalid credential: {reason}", ArgumentName="x-amz-credential")

        credential = parse_credential(
            _required(fields, "x-amz-credential"), region=self._region, fail=fail
        )
        stamp = _required(fields, "x-amz-date")
        if parse_amz_date(stamp) is None or stamp[:8] != credential.date:
            raise InvalidArgument(
                "x-amz-date must be yyyyMMddTHHmmssZ, on the day of the credential",
                ArgumentName="x-amz-date",
                ArgumentValue=stamp,
            )
        policy = _required(fields, "policy")
        signature = _required(fields, "x-amz-signature")
        resolved = await self._credentials.resolve(credential.access_key_id)
        if resolved is None:
            raise InvalidAccessKeyId(AWSAccessKeyId=credential.access_key_id)
        key = signing_key(resolved.secret_access_key, credential.date, credential.region)
        if not hmac.compare_digest(hmac_sha256_hex(key, policy), signature.lower()):
            raise SignatureDoesNotMatch()
        return resolved.principal

    async def post_object(
        self,
        ex: Exchange,
        bucket: str,
        boundary: bytes,
        on_caller: Callable[[Principal], Awaitable[None]],
    ) -> Principal:
        """Store the form's file in ``bucket`` and answer as the form asks; the caller.
        ``on_caller`` runs once the signature names the caller (the CORS headers)."""
        reader = FormReader(ex.raw_body(), boundary)
        fields, file = await reader.fields()
        principal = await self._principal(fields)
        await on_caller(principal)
        submitted = _required(fields, "key")
        policy = parse_policy(fields["policy"])
        check_policy(policy, fields, bucket, datetime.now(UTC))
        refuse_unsupported_form(fields)
        as_headers = form_headers(fields)
        key = submitted.replace("${filename}", _basename(file.filename))
        if not key:
            raise InvalidArgument("User key must have a length greater than zero.")
        head = {n: fields[n] for n in _CONTENT_FIELDS if n in fields}
        head.setdefault("content-type", file.content_type or hdr.DEFAULT_CONTENT_TYPE)
        header = object_pb2.PutObjectHeader(
            bucket=bucket,
            key=key,
            headers=hdr.content_headers(head),
            user_metadata=hdr.user_metadata(fields),
            tags=xml_in.tagging(fields["tagging"].encode()) if "tagging" in fields else [],
            storage_class=fields.get("x-amz-storage-class", ""),
            server_side_encryption=fields.get("x-amz-server-side-encryption", "").strip(),
            kms_key_id=fields.get("x-amz-server-side-encryption-aws-kms-key-id", "").strip(),
            kms_context=fields.get("x-amz-server-side-encryption-context", "").strip(),
            expected_checksums=hdr.expected_checksums(fields),
            checksum_algorithm=hdr.checksum_algorithm(fields),
            content_md5=fields.get("content-md5", ""),
            acl=acl_xml.from_headers(as_headers),
        )
        # a new version's lock, as PutObject's headers set it (checked against the bucket there)
        objectlock_xml.apply_lock_headers(header, as_headers, {})
        # the SSE-C fields, under the header's rule: over TLS or from this machine only
        ck = sse_c.customer_key(fields, ex.scope, self._proxies, request_headers=ex.headers)
        if ck is not None:
            header.customer_key.CopyFrom(ck)
        ctx = RequestContext(
            principal=principal,
            request_id=ex.request_id,
            api="s3",
            source_address=ex.source_address,
            # a form upload is decided on the same condition keys as PutObject (s3:authType POST)
            attributes=form_facts(
                ex, fields, [(t.key, t.value) for t in header.tags], self._proxies
            ),
        )
        resp = await self._service.put_object(
            ctx, header, _in_range(reader.file_data(), policy.length_range)
        )
        await reader.finish()
        await self._answer(ex, fields, bucket, key, resp)
        return principal

    async def _answer(
        self,
        ex: Exchange,
        fields: dict[str, str],
        bucket: str,
        key: str,
        resp: object_pb2.PutObjectResponse,
    ) -> None:
        scheme = str(ex.scope.get("scheme", "http"))
        location = f"{scheme}://{ex.host}/{quote(bucket)}/{quote(key)}"
        out = [(b"etag", resp.etag.encode()), (b"location", location.encode())]
        if resp.version_id:
            out.append((b"x-amz-version-id", resp.version_id.encode()))
        redirect = fields.get("success_action_redirect") or fields.get("redirect")
        if redirect and redirect.startswith(("http://", "https://")):
            query = urlencode({"bucket": bucket, "key": key, "etag": resp.etag})
            target = redirect + ("&" if "?" in redirect else "?") + query
            await ex.respond(303, [*out[:1], (b"location", target.encode())])
            return
        status = fields.get("success_action_status", "204")
        if status == "201":
            doc = PostResponse(location, bucket, key, resp.etag)
            await ex.respond_xml(xml.render(doc), out, status=201)
        elif status == "200":
            await ex.respond(200, out)
        else:  # S3 answers 204 for any other value
            await ex.respond(204, out)
