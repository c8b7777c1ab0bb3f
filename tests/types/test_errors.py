"""The error catalog: one class per S3 code, each with a status for HTTP and for gRPC."""

from __future__ import annotations

import pickle

import grpc  # type: ignore[import-untyped, unused-ignore]
import pytest

from lightningstor_types import errors
from lightningstor_types.errors import (
    ALL_ERRORS,
    GRPC_ERROR_CODE_KEY,
    GRPC_ERROR_DETAILS_PREFIX,
    AccessDenied,
    AuthenticationError,
    ClientDisconnected,
    InvalidArgument,
    InvalidContinuationToken,
    InvalidInputError,
    LightningStorError,
    NoSuchBucket,
    NoSuchKey,
    NotFoundError,
    NotImplemented_,
    RateLimited,
    Unauthenticated,
    error_for_code,
    error_from_grpc,
)

REQUIRED_CODES = """
AccessDenied AccountProblem BadDigest BucketAlreadyExists BucketAlreadyOwnedByYou BucketNotEmpty
EntityTooLarge EntityTooSmall ExpiredToken IncompleteBody InternalError InvalidAccessKeyId
InvalidArgument InvalidBucketName InvalidBucketState InvalidDigest InvalidEncryptionAlgorithmError
InvalidObjectState InvalidPart InvalidPartOrder InvalidRange InvalidRequest InvalidStorageClass
InvalidTag InvalidToken KeyTooLongError MalformedXML MalformedACLError MetadataTooLarge
MethodNotAllowed MissingContentLength MissingRequestBodyError MissingSecurityHeader NoSuchBucket
NoSuchKey NoSuchUpload NoSuchVersion NoSuchTagSet NotImplemented NotModified PreconditionFailed
RequestTimeout RequestTimeTooSkewed SignatureDoesNotMatch ServiceUnavailable SlowDown
TooManyBuckets XAmzContentSHA256Mismatch AuthorizationHeaderMalformed
AuthorizationQueryParametersError InvalidChunkSizeError BadRequest UnexpectedContent
ObjectNotInActiveTierError InvalidPartNumber QuotaExceeded IamUnavailable InvalidRedirectLocation
""".split()  # noqa: SIM905 - a word list reads best here


def _all_subclasses(cls: type[LightningStorError]) -> set[type[LightningStorError]]:
    found: set[type[LightningStorError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


# The catalog's own classes: a package may raise a subclass of a catalog error (the metadata
# store's MetadataUnavailable is a ServiceUnavailable), which answers with its parent's code.
CONCRETE = sorted(
    (
        c
        for c in _all_subclasses(LightningStorError)
        if hasattr(c, "code") and c.__module__ == errors.__name__
    ),
    key=lambda c: c.__name__,
)
VARIANTS = [c for c in CONCRETE if c not in ALL_ERRORS]


def test_every_required_code_is_in_the_catalog() -> None:
    assert not set(REQUIRED_CODES) - {c.code for c in ALL_ERRORS}


def test_codes_are_unique() -> None:
    codes = [c.code for c in ALL_ERRORS]
    assert len(codes) == len(set(codes))


def test_only_the_documented_variants_share_a_code() -> None:
    assert set(VARIANTS) == {
        Unauthenticated,
        InvalidContinuationToken,
        ClientDisconnected,
        RateLimited,
    }
    for variant in VARIANTS:
        assert issubclass(variant, error_for_code(variant.code))


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_each_error_is_complete(cls: type[LightningStorError]) -> None:
    assert 300 <= cls.http_status < 600
    assert isinstance(cls.grpc_status, grpc.StatusCode)
    assert cls.grpc_status is not grpc.StatusCode.OK
    assert cls.message
    err = cls()
    assert err.message == cls.message == str(err)
    assert err.details == {}


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.code)
def test_class_name_is_the_code(cls: type[LightningStorError]) -> None:
    assert (
        cls.__name__ == cls.code
        or (cls.__name__ == cls.code + "_" and cls is NotImplemented_)
        # S3's code has a dot: KMS.NotFoundException
        or (cls.__name__ == cls.code.replace(".", "") and cls is errors.KMSNotFoundException)
    )
    assert getattr(errors, cls.__name__) is cls


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.code)
def test_error_for_code_round_trips(cls: type[LightningStorError]) -> None:
    assert error_for_code(cls.code) is cls


def test_error_for_unknown_code() -> None:
    with pytest.raises(KeyError, match="NoSuchThing"):
        error_for_code("NoSuchThing")


def test_not_implemented_keeps_the_s3_code() -> None:
    assert NotImplemented_.code == "NotImplemented"
    assert error_for_code("NotImplemented") is NotImplemented_


@pytest.mark.parametrize(
    ("code", "http", "grpc_status"),
    [
        ("NoSuchBucket", 404, grpc.StatusCode.NOT_FOUND),
        ("NoSuchKey", 404, grpc.StatusCode.NOT_FOUND),
        ("BucketAlreadyExists", 409, grpc.StatusCode.ALREADY_EXISTS),
        ("BucketAlreadyOwnedByYou", 409, grpc.StatusCode.ALREADY_EXISTS),
        ("AccessDenied", 403, grpc.StatusCode.PERMISSION_DENIED),
        ("SignatureDoesNotMatch", 403, grpc.StatusCode.UNAUTHENTICATED),
        ("InvalidAccessKeyId", 403, grpc.StatusCode.UNAUTHENTICATED),
        ("PreconditionFailed", 412, grpc.StatusCode.FAILED_PRECONDITION),
        ("NotModified", 304, grpc.StatusCode.FAILED_PRECONDITION),
        ("BucketNotEmpty", 409, grpc.StatusCode.FAILED_PRECONDITION),
        ("InvalidBucketState", 409, grpc.StatusCode.FAILED_PRECONDITION),
        ("InvalidObjectState", 403, grpc.StatusCode.FAILED_PRECONDITION),
        ("InvalidRange", 416, grpc.StatusCode.OUT_OF_RANGE),
        ("InvalidPartNumber", 416, grpc.StatusCode.OUT_OF_RANGE),
        ("InvalidBucketName", 400, grpc.StatusCode.INVALID_ARGUMENT),
        ("MissingContentLength", 411, grpc.StatusCode.INVALID_ARGUMENT),
        ("EntityTooLarge", 400, grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("TooManyBuckets", 400, grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("QuotaExceeded", 403, grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("NotImplemented", 501, grpc.StatusCode.UNIMPLEMENTED),
        ("MethodNotAllowed", 405, grpc.StatusCode.FAILED_PRECONDITION),
        ("InternalError", 500, grpc.StatusCode.INTERNAL),
        ("ServiceUnavailable", 503, grpc.StatusCode.UNAVAILABLE),
        ("SlowDown", 503, grpc.StatusCode.UNAVAILABLE),
        ("IamUnavailable", 503, grpc.StatusCode.UNAVAILABLE),
        ("RequestTimeout", 400, grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_statuses(code: str, http: int, grpc_status: grpc.StatusCode) -> None:
    cls = error_for_code(code)
    assert (cls.http_status, cls.grpc_status) == (http, grpc_status)


def test_unauthenticated_is_access_denied_over_s3() -> None:
    err = Unauthenticated()
    assert err.code == "AccessDenied"
    assert err.http_status == 403
    assert err.grpc_status is grpc.StatusCode.UNAUTHENTICATED
    assert isinstance(err, AccessDenied)
    assert isinstance(err, AuthenticationError)


def test_invalid_continuation_token_is_invalid_argument() -> None:
    err = InvalidContinuationToken()
    assert (err.code, err.http_status) == ("InvalidArgument", 400)
    assert isinstance(err, InvalidArgument)
    assert "continuation token" in err.message


def test_kinds_can_be_caught() -> None:
    with pytest.raises(NotFoundError):
        raise NoSuchKey()
    with pytest.raises(ValueError, match="custom"):
        raise InvalidArgument("custom")
    assert issubclass(errors.InvalidBucketName, InvalidInputError)


def test_abstract_errors_cannot_be_raised() -> None:
    with pytest.raises(TypeError):
        LightningStorError()
    with pytest.raises(TypeError):
        NotFoundError()


def test_message_and_details() -> None:
    err = NoSuchKey("gone", Key="a/b", BucketName="bkt")
    assert err.message == "gone"
    assert err.details == {"Key": "a/b", "BucketName": "bkt"}
    assert repr(err) == "NoSuchKey('gone', Key='a/b', BucketName='bkt')"
    assert NoSuchKey.message != "gone"  # the default is untouched


def test_code_and_message_are_not_details() -> None:
    with pytest.raises(ValueError, match="reserved"):
        NoSuchKey(Code="x")


def test_errors_pickle_with_their_details() -> None:
    err = NoSuchBucket("custom", BucketName="b")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is NoSuchBucket
    assert (copy.message, copy.details) == ("custom", {"BucketName": "b"})


def test_a_duplicate_code_is_refused() -> None:
    with pytest.raises(TypeError, match="already taken"):
        type("NoSuchKey", (NotFoundError,), {"message": "again"})


# -- over gRPC --------------------------------------------------------------------------------


def test_grpc_metadata_layout() -> None:
    err = NoSuchKey(Key="a/b", BucketName="bkt", VersionId="ü")
    assert err.grpc_metadata() == (
        (GRPC_ERROR_CODE_KEY, "NoSuchKey"),
        (GRPC_ERROR_DETAILS_PREFIX + "key", "a/b"),
        (GRPC_ERROR_DETAILS_PREFIX + "bucket-name", "bkt"),
        (GRPC_ERROR_DETAILS_PREFIX + "version-id-bin", "ü".encode()),
    )


@pytest.mark.parametrize(
    "details",
    [
        {},
        {"BucketName": "bkt"},
        {"Key": "ключ/with space", "ETag": '"abc"', "AWSAccessKeyId": "AKIA"},
        {"Key": " leading and trailing "},
        {"Key": "tab\there", "ArgumentValue": "lone \udcff surrogate"},
    ],
)
def test_grpc_round_trip(details: dict[str, str]) -> None:
    err = NoSuchKey("the message", **details)
    back = error_from_grpc(err.grpc_status, err.message, err.grpc_metadata())
    assert type(back) is NoSuchKey
    assert (back.message, back.details) == ("the message", details)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.code)
def test_every_error_round_trips_over_grpc(cls: type[LightningStorError]) -> None:
    back = error_from_grpc(cls.grpc_status, "", cls().grpc_metadata())
    assert type(back) is cls
    assert back.message == cls.message


def test_variants_come_back_as_their_code() -> None:
    err = Unauthenticated()
    back = error_from_grpc(err.grpc_status, err.message, err.grpc_metadata())
    assert type(back) is AccessDenied


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, errors.ServiceUnavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.ServiceUnavailable),
        (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
        (grpc.StatusCode.PERMISSION_DENIED, AccessDenied),
        (grpc.StatusCode.UNIMPLEMENTED, NotImplemented_),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.UNKNOWN, errors.InternalError),
        (grpc.StatusCode.NOT_FOUND, errors.InternalError),
    ],
)
def test_errors_without_our_metadata_map_by_status(
    status: grpc.StatusCode, expected: type[LightningStorError]
) -> None:
    back = error_from_grpc(status, "transport said so", None)
    assert type(back) is expected
    assert back.message == "transport said so"


def test_unknown_code_maps_by_status() -> None:
    metadata = [(GRPC_ERROR_CODE_KEY, "FromTheFuture"), (GRPC_ERROR_DETAILS_PREFIX + "key", "k")]
    back = error_from_grpc(grpc.StatusCode.UNAVAILABLE, None, metadata)
    assert type(back) is errors.ServiceUnavailable
    assert back.details == {}
