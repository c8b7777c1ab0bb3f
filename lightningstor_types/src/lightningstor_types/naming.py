"""The naming rules of the domain, each in one place: buckets, object keys, scope ids, tags,
user metadata and storage classes.

Every validator returns ``None`` or raises the S3 error a client should see, with a message that
says which rule failed. Both APIs call these same functions, so a name the gRPC API accepts is a
name S3 accepts, and the other way round.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Final

from lightningstor_types.errors import (
    InvalidArgument,
    InvalidBucketName,
    InvalidStorageClass,
    InvalidTag,
    KeyTooLongError,
    MetadataTooLarge,
)
from lightningstor_types.header_values import validate_header_value


class _Accepted:
    """Names a validator accepted, so that the same name is not checked again: a request's
    bucket name and scope ids are checked several times on its way (S3 dispatch, authorization,
    the core), each a few microseconds. Only accepted names are kept, and at most ``size`` of
    them (the set is emptied when full), so names a client makes up cannot grow it."""

    __slots__ = ("_names", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._names: set[str] = set()
        self._size = size

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)

    def add(self, name: str) -> None:
        if len(self._names) >= self._size:
            self._names.clear()
        self._names.add(name)


# -- buckets (S3 general-purpose bucket rules) ------------------------------------------------

BUCKET_NAME_MIN: Final = 3
BUCKET_NAME_MAX: Final = 63
RESERVED_BUCKET_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES: Final = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]*")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_BUCKET_NAMES_ACCEPTED = _Accepted()


def validate_bucket_name(name: str) -> None:
    """Check ``name`` against the S3 rules for general-purpose buckets.

    3 to 63 characters of lowercase letters, digits, dots and hyphens; begins and ends with a letter
    or digit; no two adjacent periods; not an IPv4 address; none of the reserved prefixes
    (``xn--``, ``sthree-``, ``amzn-s3-demo-``) or suffixes (``-s3alias``, ``--ol-s3``, ``.mrap``,
    ``--x-s3``, ``--table-s3``). Raises :class:`InvalidBucketName`.
    """

    if name in _BUCKET_NAMES_ACCEPTED:
        return

    def fail(rule: str) -> InvalidBucketName:
        return InvalidBucketName(f"The specified bucket is not valid: {rule}", BucketName=name)

    if not BUCKET_NAME_MIN <= len(name) <= BUCKET_NAME_MAX:
        raise fail(f"bucket names must be {BUCKET_NAME_MIN} to {BUCKET_NAME_MAX} characters long")
    if not _BUCKET_CHARS.fullmatch(name):
        raise fail("bucket names may contain only lowercase letters, digits, dots and hyphens")
    if not (name[0].isalnum() and name[-1].isalnum()):
        raise fail("bucket names must begin and end with a letter or digit")
    if ".." in name:
        raise fail("bucket names must not contain two adjacent periods")
    if _IPV4.fullmatch(name):
        raise fail("bucket names must not be formatted as an IP address")
    for prefix in RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            raise fail(f"the prefix {prefix!r} is reserved")
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if name.endswith(suffix):
            raise fail(f"the suffix {suffix!r} is reserved")
    _BUCKET_NAMES_ACCEPTED.add(name)


# -- object keys ------------------------------------------------------------------------------

OBJECT_KEY_MAX_BYTES: Final = 1024


def validate_object_key(key: str) -> None:
    """Check an object key: 1 to 1024 bytes of valid UTF-8, without NUL.

    S3 itself allows any UTF-8, but ``\\x00`` is the separator in our metadata keys (an object
    key and its version or upload id are joined with it), so a key containing NUL is refused:
    without the rule, ``"a\\x00b"`` could be confused with version ``b`` of key ``a``. A
    ``str`` holding a lone surrogate (what ``surrogateescape`` makes of invalid bytes) is not
    valid UTF-8 either.
    Raises :class:`KeyTooLongError` for a key over 1024 bytes, :class:`InvalidArgument` otherwise.
    """
    if not key:
        raise InvalidArgument("Object keys must not be empty", ArgumentName="key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument("Object keys must be valid UTF-8", ArgumentName="key") from None
    if size > OBJECT_KEY_MAX_BYTES:
        raise KeyTooLongError(
            f"Your key is too long: {size} bytes, at most {OBJECT_KEY_MAX_BYTES}",
            Size=str(size),
            MaxSizeAllowed=str(OBJECT_KEY_MAX_BYTES),
        )
    if "\x00" in key:
        raise InvalidArgument(
            "Object keys must not contain the NUL character", ArgumentName="key", ArgumentValue=key
        )


# -- org and project ids ----------------------------------------------------------------------

NO_PROJECT: Final = "_"
"""What stands for "no project" in metadata keys; hence not a valid project id."""

_SCOPE_ID = re.compile(r"[A-Za-z0-9_.-]{1,63}")
_SCOPE_IDS_ACCEPTED = _Accepted()


@lru_cache(maxsize=4096)  # a Scope is built several times per request from the same few ids
def validate_scope_id(value: str, what: str) -> None:
    """Check an org or project id: 1 to 63 characters of ``[A-Za-z0-9_.-]``, and not ``_`` alone.

    ``what`` names the field in the message (``"org_id"``, ``"project_id"``). Ids appear in
    metadata keys and resource paths, which is why ``/`` and the no-project marker are excluded.
    Raises :class:`InvalidArgument`.
    """
    if value in _SCOPE_IDS_ACCEPTED:
        return
    if not _SCOPE_ID.fullmatch(value):
        raise InvalidArgument(
            f"{what} must be 1 to 63 characters of letters, digits, '_', '.' and '-'",
            ArgumentName=what,
            ArgumentValue=value,
        )
    if value == NO_PROJECT:
        raise InvalidArgument(
            f"{what} must not be {NO_PROJECT!r}, which stands for no project",
            ArgumentName=what,
            ArgumentValue=value,
        )
    _SCOPE_IDS_ACCEPTED.add(value)


# -- tags -------------------------------------------------------------------------------------

MAX_OBJECT_TAGS: Final = 10
MAX_BUCKET_TAGS: Final = 50
TAG_KEY_MAX: Final = 128
TAG_VALUE_MAX: Final = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_text_ok(text: str) -> bool:
    # The AWS pattern ^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$: letters, separators (spaces), numbers.
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in text)


def validate_tags(
    tags: Mapping[str, str] | Sequence[tuple[str, str]], *, object_tags: bool
) -> None:
    """Check a tag set: at most 10 tags on an object (50 on a bucket), unique keys, keys of 1 to
    128 and values of 0 to 256 characters from letters, numbers, spaces and ``_ . : / = + - @``,
    and no key beginning with the reserved ``aws:`` prefix (in any case).

    Pass the tags as parsed, a sequence of ``(key, value)`` pairs, so duplicate keys are seen; a
    mapping cannot hold them. Raises :class:`InvalidTag`.
    """
    pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags)
    limit = MAX_OBJECT_TAGS if object_tags else MAX_BUCKET_TAGS
    if len(pairs) > limit:
        owner = "an object" if object_tags else "a bucket"
        raise InvalidTag(f"Cannot provide more than {limit} tags on {owner}")
    seen: set[str] = set()
    for key, value in pairs:
        if not 1 <= len(key) <= TAG_KEY_MAX:
            raise InvalidTag(
                f"The TagKey you have provided is invalid: 1 to {TAG_KEY_MAX} characters",
                TagKey=key,
            )
        if len(value) > TAG_VALUE_MAX:
            raise InvalidTag(
                f"The TagValue you have provided is invalid: at most {TAG_VALUE_MAX} characters",
                TagKey=key,
            )
        if not _tag_text_ok(key):
            raise InvalidTag("The TagKey you have provided is invalid", TagKey=key)
        if not _tag_text_ok(value):
            raise InvalidTag("The TagValue you have provided is invalid", TagKey=key)
        if key[:4].lower() == "aws:":
            raise InvalidTag("Your TagKey cannot be prefixed with aws:", TagKey=key)
        if key in seen:
            raise InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        seen.add(key)


# -- user metadata ----------------------------------------------------------------------------

USER_METADATA_MAX_BYTES: Final = 2048
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def validate_user_metadata(meta: Mapping[str, str]) -> None:
    """Check user metadata (the ``x-amz-meta-*`` headers, named without that prefix).

    S3's rule: the UTF-8 bytes of all names and values together are at most 2 KiB
    (:class:`MetadataTooLarge`). Since every entry must also travel as an HTTP header, a name
    must be an HTTP token and a value a valid header value (:class:`InvalidArgument`, rule in
    :mod:`lightningstor_types.header_values`).
    """
    total = 0
    for name, value in meta.items():
        if not _HTTP_TOKEN.fullmatch(name):
            raise InvalidArgument(
                "User metadata names must be HTTP header tokens", ArgumentName=name
            )
        validate_header_value(name, value)
        try:
            total += len(name.encode("utf-8")) + len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgument("User metadata must be valid UTF-8", ArgumentName=name) from None
    if total > USER_METADATA_MAX_BYTES:
        raise MetadataTooLarge(
            f"Your metadata headers exceed the maximum allowed metadata size: "
            f"{total} bytes, at most {USER_METADATA_MAX_BYTES}",
            Size=str(total),
            MaxSizeAllowed=str(USER_METADATA_MAX_BYTES),
        )


# -- storage classes ---------------------------------------------------------------------------

STORAGE_CLASSES: Final = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "GLACIER_IR",
        "OUTPOSTS",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)
"""Storage classes S3 accepts; reported as given, stored as ``storage.distributed`` maps them
(``storage_class_policies``)."""


def validate_storage_class(value: str) -> str:
    """The storage class a request names (``STANDARD`` when it names none); InvalidStorageClass
    for any S3 does not know."""
    if not value:
        return "STANDARD"
    if value not in STORAGE_CLASSES:
        raise InvalidStorageClass(StorageClassRequested=value)
    return value
