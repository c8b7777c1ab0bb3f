"""Bucket configurations stored in the bucket record: CORS (Get/Put/DeleteBucketCors)."""

from lightningstor_api.bucketconfig.cors import (
    bucket_cors,
    delete_bucket_cors,
    get_bucket_cors,
    put_bucket_cors,
)

__all__ = ["bucket_cors", "delete_bucket_cors", "get_bucket_cors", "put_bucket_cors"]
