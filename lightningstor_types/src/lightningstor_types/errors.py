# ruff: noqa: N818 - error classes are named by their S3 code, which has no "Error" suffix
"""The error catalog: every error either API returns, in one place (docs/architecture.md §9).

Each error is a class named by its S3 code (``NoSuchBucket`` answers ``<Code>NoSuchBucket</Code>``)
that carries, as class attributes, its HTTP status, its gRPC status and its default message (AWS
wording). ``NotImplemented`` would shadow the builtin, so that one class is ``NotImplemented_`` and
sets ``code`` explicitly. Keyword arguments become extra fields of the S3 error document
(``NoSuchKey(Key="a/b")`` adds ``<Key>a/b</Key>``).

Abstract bases group the errors by gRPC status, so a caller can catch a whole kind; a few errors
set their own HTTP status (``NotModified`` is HTTP 304 and, gRPC having no such status,
FAILED_PRECONDITION: a conditional GET whose condition failed). The tree, briefly::

    LightningStorError
    ├── InvalidInputError        INVALID_ARGUMENT, also a ValueError: InvalidArgument,
    │                            InvalidBucketName, KeyTooLongError, InvalidTag, MalformedXML, …
    │   └── InvalidArgument
    │       └── InvalidContinuationToken  (variant: code InvalidArgument)
    ├── AuthenticationError      UNAUTHENTICATED: SignatureDoesNotMatch, InvalidAccessKeyId, …
    ├── PermissionDeniedError    PERMISSION_DENIED: AccessDenied, AccountProblem
    │   └── AccessDenied
    │       └── Unauthenticated  (variant: code AccessDenied, as S3 answers a request without
    │                             credentials; gRPC UNAUTHENTICATED; also an AuthenticationError)
    ├── NotFoundError            NOT_FOUND: NoSuchBucket, NoSuchKey, NoSuchUpload, NoSuchVersion, …
    ├── AlreadyExistsError       ALREADY_EXISTS: BucketAlreadyExists, BucketAlreadyOwnedByYou
    ├── FailedPreconditionError  FAILED_PRECONDITION: PreconditionFailed, NotModified,
    │                            BucketNotEmpty, InvalidBucketState, InvalidObjectState, …
    ├── OutOfRangeError          OUT_OF_RANGE: InvalidRange, InvalidPartNumber
    ├── ResourceExhaustedError   RESOURCE_EXHAUSTED: EntityTooLarge, TooManyBuckets, QuotaExceeded
    ├── UnavailableError         UNAVAILABLE: ServiceUnavailable, SlowDown, IamUnavailable
    │   └── SlowDown
    │       └── RateLimited      (variant: code SlowDown, gRPC RESOURCE_EXHAUSTED: a rate limit)
    ├── ConditionalRequestConflict, OperationAborted   ABORTED
    ├── InternalError            INTERNAL
    ├── NotImplemented_          UNIMPLEMENTED
    └── RequestTimeout           DEADLINE_EXCEEDED

A *variant* shares its parent's S3 code and differs in message or gRPC status; the catalog
(:data:`ALL_ERRORS`, :func:`error_for_code`) holds exactly one class per code, never a variant.
Codes of our own, outside S3: ``QuotaExceeded``, ``IamUnavailable``, ``NoSuchAccessKey``.

Over gRPC an error travels as its gRPC status and message plus trailing metadata:
:data:`GRPC_ERROR_CODE_KEY` (``x-lightningstor-error-code``) carries the S3 code, and each detail
travels under :data:`GRPC_ERROR_DETAILS_PREFIX` followed by its name in kebab case
(``BucketName`` → ``x-lightningstor-error-bucket-name``), with ``-bin`` appended and the value
UTF-8 encoded when it is not printable ASCII without surrounding spaces.
:meth:`LightningStorError.grpc_metadata` writes it and :func:`error_from_grpc` reads it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final

import grpc  # type: ignore[import-untyped, unused-ignore]

GRPC_ERROR_CODE_KEY: Final = "x-lightningstor-error-code"
"""Trailing-metadata key whose value is the S3 error code of a failed gRPC call."""

GRPC_ERROR_DETAILS_PREFIX: Final = "x-lightningstor-error-"
"""Prefix of the trailing-metadata keys that carry an error's details (kebab-case names)."""

_CATALOG: dict[str, type[LightningStorError]] = {}
_RESERVED_DETAILS = frozenset({"Code", "Message"})
_S = grpc.StatusCode


class LightningStorError(Exception):
    """Base of every error in the catalog; abstract (only the classes with a code are raised)."""

    code: ClassVar[str]
    """The S3 error code, e.g. ``NoSuchBucket``."""
    http_status: ClassVar[int]
    grpc_status: ClassVar[grpc.StatusCode]
    message: str
    """The default message on the class; this error's message on an instance."""
    details: dict[str, str]
    """Extra fields of the S3 error document (``BucketName``, ``Key``, ``ArgumentName``, …)."""

    def __init_subclass__(
        cls, *, abstract: bool = False, variant: bool = False, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        if variant:
            if "code" in cls.__dict__ or not hasattr(cls, "code"):
                raise TypeError(f"variant {cls.__name__} must inherit the code of its parent")
            return
        code = cls.__dict__.get("code", cls.__name__)
        missing = [a for a in ("http_status", "grpc_status", "message") if not hasattr(cls, a)]
        if missing:
            raise TypeError(f"{cls.__name__} lacks {', '.join(missing)}")
        if code in _CATALOG:
            raise TypeError(f"S3 error code {code!r} is already taken by {_CATALOG[code]}")
        cls.code = code
        _CATALOG[code] = cls

    def __init__(self, message: str | None = None, **details: str) -> None:
        if not hasattr(type(self), "code"):
            raise TypeError(f"{type(self).__name__} is abstract: raise one of its subclasses")
        reserved = _RESERVED_DETAILS.intersection(details)
        if reserved:
            raise ValueError(f"reserved error detail names: {sorted(reserved)}")
        self.message = message if message is not None else type(self).message
        self.details = details
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        fields = "".join(f", {k}={v!r}" for k, v in self.details.items())
        return f"{type(self).__name__}({self.message!r}{fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def grpc_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """Trailing metadata carrying this error's code and details over gRPC."""
        metadata: list[tuple[str, str | bytes]] = [(GRPC_ERROR_CODE_KEY, self.code)]
        for name, value in self.details.items():
            key = GRPC_ERROR_DETAILS_PREFIX + _kebab(name)
            if value.isascii() and value.isprintable() and value == value.strip():
                metadata.append((key, value))
            else:
                metadata.append((key + "-bin", value.encode("utf-8", "surrogatepass")))
        return tuple(metadata)


def _rebuild(
    cls: type[LightningStorError], message: str, details: dict[str, str]
) -> LightningStorError:
    return cls(message, **details)


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _camel(kebab: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in kebab.split("-"))


# -- kinds, by gRPC status ------------------------------------------------------------------


class InvalidInputError(LightningStorError, ValueError, abstract=True):
    """The request is malformed or names something invalid; retrying it cannot succeed."""

    http_status = 400
    grpc_status = _S.INVALID_ARGUMENT


class AuthenticationError(LightningStorError, abstract=True):
    """The caller's identity could not be established (signature, key, token)."""

    http_status = 403
    grpc_status = _S.UNAUTHENTICATED


class PermissionDeniedError(LightningStorError, abstract=True):
    """The caller is known but may not do this."""

    http_status = 403
    grpc_status = _S.PERMISSION_DENIED


class NotFoundError(LightningStorError, abstract=True):
    http_status = 404
    grpc_status = _S.NOT_FOUND


class AlreadyExistsError(LightningStorError, abstract=True):
    http_status = 409
    grpc_status = _S.ALREADY_EXISTS


class FailedPreconditionError(LightningStorError, abstract=True):
    """The request is valid but the state of the bucket or object does not allow it."""

    http_status = 409
    grpc_status = _S.FAILED_PRECONDITION


class OutOfRangeError(LightningStorError, abstract=True):
    http_status = 416
    grpc_status = _S.OUT_OF_RANGE


class ResourceExhaustedError(LightningStorError, abstract=True):
    """A size, count or quota limit."""

    http_status = 400
    grpc_status = _S.RESOURCE_EXHAUSTED


class UnavailableError(LightningStorError, abstract=True):
    """A transient failure; the client should retry with back-off."""

    http_status = 503
    grpc_status = _S.UNAVAILABLE


# -- INVALID_ARGUMENT -------------------------------------------------------------------------


class InvalidArgument(InvalidInputError):
    message = "Invalid Argument"


class KMSNotFoundException(InvalidInputError):
    code = "KMS.NotFoundException"  # S3's code for an SSE-KMS key id that names no key
    message = "Invalid keyId"


class InvalidPolicyDocument(InvalidInputError):
    message = (
        "The content of the form does not meet the conditions specified in the policy document."
    )


class MalformedPOSTRequest(InvalidInputError):
    message = "The body of your POST request is not well-formed multipart/form-data."


class IncorrectNumberOfFilesInPostRequest(InvalidInputError):
    message = "POST requires exactly one file upload per request."


class InvalidContinuationToken(InvalidArgument, variant=True):
    """S3 answers a bad continuation token with ``InvalidArgument``."""

    message = "The continuation token provided is incorrect"


class InvalidRequest(InvalidInputError):
    message = "Invalid Request"


class BadRequest(InvalidInputError):
    message = "Bad Request"


class InvalidBucketName(InvalidInputError):
    message = "The specified bucket is not valid."


class KeyTooLongError(InvalidInputError):
    message = "Your key is too long"


class InvalidTag(InvalidInputError):
    message = "The tag provided was not a valid tag."


class MalformedTrailerError(InvalidInputError):
    message = (
        "The request contained trailing data that was not well-formed or did not conform "
        "to our published schema."
    )


class MetadataTooLarge(InvalidInputError):
    message = "Your metadata headers exceed the maximum allowed metadata size."


class RequestHeaderSectionTooLarge(InvalidInputError):
    message = "Your request header section exceeds the maximum allowed size."


class MalformedXML(InvalidInputError):
    message = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


class MalformedPolicy(InvalidInputError):
    message = "Policies must be valid JSON and the first byte must be '{'"


class MalformedACLError(InvalidInputError):
    message = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


class AccessControlListNotSupported(InvalidInputError):
    message = "The bucket does not allow ACLs"


class InvalidBucketAclWithObjectOwnership(InvalidInputError):
    message = "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"


class BadDigest(InvalidInputError):
    message = "The Content-MD5 or checksum value you specified did not match what we received."


class InvalidDigest(InvalidInputError):
    message = "The Content-MD5 or checksum value you specified is not valid."


class XAmzContentSHA256Mismatch(InvalidInputError):
    message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class IncompleteBody(InvalidInputError):
    message = "You did not provide the number of bytes specified by the Content-Length HTTP header"


class ClientDisconnected(IncompleteBody, variant=True):
    """The client went away before sending its whole body (a variant of IncompleteBody)."""

    message = "The client closed the connection before the request body was complete"


class InvalidChunkSizeError(InvalidInputError):
    http_status = 403
    message = "Only the last chunk is allowed to have a size less than 8192 bytes"


class EntityTooSmall(InvalidInputError):
    message = "Your proposed upload is smaller than the minimum allowed object size."


class InvalidPart(InvalidInputError):
    message = (
        "One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag."
    )


class InvalidPartOrder(InvalidInputError):
    message = (
        "The list of parts was not in ascending order. "
        "The parts list must be specified in order by part number."
    )


class InvalidStorageClass(InvalidInputError):
    message = "The storage class you specified is not valid"


class InvalidRedirectLocation(InvalidInputError):
    message = "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."


class InvalidEncryptionAlgorithmError(InvalidInputError):
    message = "The encryption request you specified is not valid. The valid value is AES256."


class InvalidURI(InvalidInputError):
    message = "Couldn't parse the specified URI."


class InvalidLocationConstraint(InvalidInputError):
    message = "The specified location constraint is not valid."


class IllegalLocationConstraintException(InvalidInputError):
    message = "The location constraint is incompatible with the region of this endpoint."


class IllegalVersioningConfigurationException(InvalidInputError):
    message = "The versioning configuration specified in the request is invalid."


class MissingContentLength(InvalidInputError):
    http_status = 411
    message = "You must provide the Content-Length HTTP header."


class MissingRequestBodyError(InvalidInputError):
    message = "Request Body is empty"


class MissingSecurityHeader(InvalidInputError):
    message = "Your request was missing a required header"


class UnexpectedContent(InvalidInputError):
    message = "This request does not support content"


class UserKeyMustBeSpecified(InvalidInputError):
    message = "The bucket POST must contain the specified field name."


class MaxMessageLengthExceeded(InvalidInputError):
    message = "Your request was too big."


class AuthorizationHeaderMalformed(InvalidInputError):
    message = "The authorization header you provided is invalid."


class AuthorizationQueryParametersError(InvalidInputError):
    message = "The authorization query parameters you provided are invalid."


# -- UNAUTHENTICATED --------------------------------------------------------------------------


class InvalidAccessKeyId(AuthenticationError):
    message = "The AWS Access Key Id you provided does not exist in our records."


class SignatureDoesNotMatch(AuthenticationError):
    message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class RequestTimeTooSkewed(AuthenticationError):
    message = "The difference between the request time and the current time is too large."


class ExpiredToken(AuthenticationError):
    http_status = 400
    message = "The provided token has expired."


class InvalidToken(AuthenticationError):
    http_status = 400
    message = "The provided token is malformed or otherwise invalid."


# -- PERMISSION_DENIED ------------------------------------------------------------------------


class AccessDenied(PermissionDeniedError):
    message = "Access Denied"


class AccessForbidden(PermissionDeniedError):
    """A CORS preflight that no rule of the bucket allows (S3's code for it)."""

    message = (
        "CORSResponse: This CORS request is not allowed. This is usually because the evaluation "
        "of Origin, request method / Access-Control-Request-Method or "
        "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
    )


class Unauthenticated(AccessDenied, AuthenticationError, variant=True):
    """Missing or unacceptable credentials: S3 says AccessDenied, gRPC says UNAUTHENTICATED."""

    grpc_status = _S.UNAUTHENTICATED
    message = "Access Denied: the request is not authenticated"


class AccountProblem(PermissionDeniedError):
    message = "There is a problem with your account that prevents the operation from completing."


# -- NOT_FOUND --------------------------------------------------------------------------------


class NoSuchBucket(NotFoundError):
    message = "The specified bucket does not exist"


class NoSuchKey(NotFoundError):
    message = "The specified key does not exist."


class NoSuchVersion(NotFoundError):
    message = "The specified version does not exist."


class NoSuchUpload(NotFoundError):
    message = (
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed."
    )


class NoSuchTagSet(NotFoundError):
    message = "The TagSet does not exist"


class NoSuchBucketPolicy(NotFoundError):
    message = "The bucket policy does not exist"


class NoSuchPublicAccessBlockConfiguration(NotFoundError):
    message = "The public access block configuration was not found"


class OwnershipControlsNotFoundError(NotFoundError):
    message = "The bucket ownership controls were not found"


class NoSuchLifecycleConfiguration(NotFoundError):
    message = "The lifecycle configuration does not exist"


class NoSuchCORSConfiguration(NotFoundError):
    message = "The CORS configuration does not exist"


class NoSuchWebsiteConfiguration(NotFoundError):
    message = "The specified bucket does not have a website configuration"


class ServerSideEncryptionConfigurationNotFoundError(NotFoundError):
    message = "The server side encryption configuration was not found"


class ObjectLockConfigurationNotFoundError(NotFoundError):
    message = "Object Lock configuration does not exist for this bucket"


class NoSuchObjectLockConfiguration(NotFoundError):
    message = "The specified object does not have a ObjectLock configuration"


class NoSuchAccessKey(NotFoundError):
    """Ours: the credential API names an access key that does not exist."""

    message = "The specified access key does not exist."


class NoSuchIamEntity(NotFoundError):
    """Ours: IamAdminService names a role, group or binding that was not made at runtime."""

    message = "The specified role, group or binding does not exist."


# -- ALREADY_EXISTS ---------------------------------------------------------------------------


class BucketAlreadyExists(AlreadyExistsError):
    message = (
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again."
    )


class BucketAlreadyOwnedByYou(AlreadyExistsError):
    message = "Your previous request to create the named bucket succeeded and you already own it."


# -- FAILED_PRECONDITION ----------------------------------------------------------------------


class PreconditionFailed(FailedPreconditionError):
    http_status = 412
    message = "At least one of the pre-conditions you specified did not hold"


class NotModified(FailedPreconditionError):
    """HTTP 304 (sent without a body); gRPC has no "not modified", so FAILED_PRECONDITION."""

    http_status = 304
    message = "Not Modified"


class BucketNotEmpty(FailedPreconditionError):
    message = "The bucket you tried to delete is not empty"


class IamManagedExternally(FailedPreconditionError):
    """Ours: IamAdminService with [iam] mode = "external": the external IAM owns its tenants."""

    message = 'Tenants are managed by the external IAM ([iam] mode = "external").'


class IamEntityInUse(FailedPreconditionError):
    """Ours: a runtime role or group that a binding still names cannot be deleted."""

    message = "The role or group is named by a binding; delete the binding first."


class InvalidBucketState(FailedPreconditionError):
    message = "The request is not valid with the current state of the bucket."


class InvalidObjectState(FailedPreconditionError):
    http_status = 403
    message = "The operation is not valid for the current state of the object."


class ObjectNotInActiveTierError(FailedPreconditionError):
    http_status = 403
    message = "The source object of the COPY operation is not in the active tier."


class MethodNotAllowed(FailedPreconditionError):
    """Also what S3 answers a GET of a delete marker; hence FAILED_PRECONDITION over gRPC."""

    http_status = 405
    message = "The specified method is not allowed against this resource."


# -- OUT_OF_RANGE -----------------------------------------------------------------------------


class InvalidRange(OutOfRangeError):
    message = "The requested range is not satisfiable"


class InvalidPartNumber(OutOfRangeError):
    message = "The requested partnumber is not satisfiable"


# -- RESOURCE_EXHAUSTED -----------------------------------------------------------------------


class EntityTooLarge(ResourceExhaustedError):
    message = "Your proposed upload exceeds the maximum allowed size"


class TooManyBuckets(ResourceExhaustedError):
    message = "You have attempted to create more buckets than allowed"


class IamLimitExceeded(ResourceExhaustedError):
    """Ours: an org holds as many runtime bindings or groups as ``[iam]`` allows."""

    message = "The org holds as many runtime bindings or groups as allowed."


class QuotaExceeded(ResourceExhaustedError):
    """Ours: a storage quota of the org or project would be exceeded."""

    http_status = 403
    message = "The request would exceed a storage quota."


# -- UNAVAILABLE ------------------------------------------------------------------------------


class ServiceUnavailable(UnavailableError):
    message = "Please reduce your request rate."


class SlowDown(UnavailableError):
    message = "Please reduce your request rate."


class RateLimited(SlowDown, variant=True):
    """A tenant's rate limit: S3 ``SlowDown`` (503), gRPC RESOURCE_EXHAUSTED. The detail
    ``RetryAfter`` (whole seconds) becomes the ``Retry-After`` header over S3 and the trailer
    ``x-lightningstor-error-retry-after`` over gRPC."""

    grpc_status = _S.RESOURCE_EXHAUSTED


class IamUnavailable(UnavailableError):
    """Ours: the authorization service cannot be reached; authorization fails closed."""

    message = "authorization service unavailable"


# -- the rest, one gRPC status each -----------------------------------------------------------


class ConditionalRequestConflict(LightningStorError):
    http_status = 409
    grpc_status = _S.ABORTED
    message = "A conflicting operation occurred. If using PutObject you can retry the request."


class OperationAborted(LightningStorError):
    http_status = 409
    grpc_status = _S.ABORTED
    message = "A conflicting conditional operation is currently in progress against this resource."


class InternalError(LightningStorError):
    http_status = 500
    grpc_status = _S.INTERNAL
    message = "We encountered an internal error. Please try again."


class NotImplemented_(LightningStorError):  # noqa: N801 - "NotImplemented" is a builtin
    code = "NotImplemented"
    http_status = 501
    grpc_status = _S.UNIMPLEMENTED
    message = "A header you provided implies functionality that is not implemented"


class RequestTimeout(LightningStorError):
    http_status = 400
    grpc_status = _S.DEADLINE_EXCEEDED
    message = (
        "Your socket connection to the server was not read from or written to within "
        "the timeout period."
    )


# -- the catalog ------------------------------------------------------------------------------

ALL_ERRORS: Final[tuple[type[LightningStorError], ...]] = tuple(_CATALOG.values())
"""Every error code, one class each (variants excluded), in definition order."""

_GRPC_FALLBACK: Final[Mapping[grpc.StatusCode, type[LightningStorError]]] = {
    _S.INVALID_ARGUMENT: InvalidArgument,
    _S.UNAUTHENTICATED: Unauthenticated,
    _S.PERMISSION_DENIED: AccessDenied,
    _S.UNIMPLEMENTED: NotImplemented_,
    _S.RESOURCE_EXHAUSTED: SlowDown,
    _S.UNAVAILABLE: ServiceUnavailable,
    _S.DEADLINE_EXCEEDED: ServiceUnavailable,
}


def error_for_code(code: str) -> type[LightningStorError]:
    """The catalog class for an S3 error code; ``KeyError`` for a code we do not know."""
    try:
        return _CATALOG[code]
    except KeyError:
        raise KeyError(f"unknown S3 error code {code!r}") from None


def error_from_grpc(
    status: grpc.StatusCode,
    message: str | None,
    metadata: Iterable[tuple[str, str | bytes]] | None,
) -> LightningStorError:
    """Rebuild the error a failed gRPC call carries (the client's side of :meth:`grpc_metadata`).

    With a known code in the trailing metadata, that error with its details; otherwise (a call
    that failed before reaching our servicer, or an unknown code) an error chosen by gRPC status:
    UNAVAILABLE and DEADLINE_EXCEEDED become ``ServiceUnavailable``, unknown statuses
    ``InternalError``. The message is kept either way.
    """
    code: str | None = None
    details: dict[str, str] = {}
    for key, value in metadata or ():
        if key == GRPC_ERROR_CODE_KEY:
            code = value.decode() if isinstance(value, bytes) else value
        elif key.startswith(GRPC_ERROR_DETAILS_PREFIX):
            name = key.removeprefix(GRPC_ERROR_DETAILS_PREFIX).removesuffix("-bin")
            text = value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else value
            details[_camel(name)] = text
    cls = _CATALOG.get(code) if code is not None else None
    if cls is None:
        cls = _GRPC_FALLBACK.get(status, InternalError)
        details = {}
    return cls(message or None, **details)
