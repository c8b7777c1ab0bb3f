"""The public access block in force on a bucket: its own four flags ORed with its org's.

As AWS combines the account-level and the bucket-level block, a flag holds when either level
sets it; neither level can lift what the other sets. Pure: callers pass the records they read
(the bucket's from the bucket cache, the org's from :meth:`CoreContext.org_public_access_block`).
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2

FLAGS = (
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
)


def effective_public_access_block(
    bucket_record: records_pb2.BucketRecord,
    org: bucket_pb2.PublicAccessBlockConfiguration | None,
) -> bucket_pb2.PublicAccessBlockConfiguration:
    """Each flag set when the bucket's block or the org's (None: the org has none) sets it."""
    own = bucket_record.public_access_block
    return bucket_pb2.PublicAccessBlockConfiguration(
        **{f: getattr(own, f) or (org is not None and getattr(org, f)) for f in FLAGS}
    )
