"""Resources as a bucket policy names them: ``arn:aws:s3:::bucket`` and
``arn:aws:s3:::bucket/key-pattern`` (``*`` any run, ``?`` one character), or ``"*"``.

A bucket policy may only name its own bucket (and its objects): anything else is refused when
the policy is put, as AWS refuses it ("Policy has invalid resource").
"""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor_api.access.condition.string import glob

S3_ARN = "arn:aws:s3:::"


class ResourceError(ValueError):
    """A Resource the bucket's policy cannot name."""


@dataclass(frozen=True, slots=True)
class ResourcePattern:
    """The bucket itself (``key`` None), its objects whose keys match ``key``, or both (``*``)."""

    text: str
    key: str | None
    bucket_too: bool = False

    def matches(self, key: str | None) -> bool:
        """Whether the request's resource (the bucket when ``key`` is None) is named."""
        if key is None:
            return self.key is None or self.bucket_too
        return self.key is not None and glob(self.key).fullmatch(key) is not None


def parse_resource(text: object, bucket: str) -> ResourcePattern:
    if text == "*":
        return ResourcePattern("*", "*", bucket_too=True)
    if not isinstance(text, str) or not text.startswith(S3_ARN):
        raise ResourceError(f"Policy has invalid resource: {text}")
    name, slash, key = text[len(S3_ARN) :].partition("/")
    if not name or glob(name).fullmatch(bucket) is None:
        raise ResourceError(f"Policy has invalid resource: {text} is not of bucket {bucket}")
    if not slash:
        return ResourcePattern(text, None)
    return ResourcePattern(text, key or "")
