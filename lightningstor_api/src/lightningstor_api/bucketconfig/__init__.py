"""Bucket configurations stored in the bucket record: CORS and default encryption."""

from lightningstor_api.bucketconfig.cors import (
    bucket_cors,
    delete_bucket_cors,
    get_bucket_cors,
    put_bucket_cors,
)
from lightningstor_api.bucketconfig.encryption import (
    delete_bucket_encryption,
    get_bucket_encryption,
    put_bucket_encryption,
)

__all__ = [
    "bucket_cors",
    "delete_bucket_cors",
    "delete_bucket_encryption",
    "get_bucket_cors",
    "get_bucket_encryption",
    "put_bucket_cors",
    "put_bucket_encryption",
]
