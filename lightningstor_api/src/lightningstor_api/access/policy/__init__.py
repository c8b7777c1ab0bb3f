"""The bucket policy language: a document parsed once into typed statements."""

from lightningstor_api.access.policy.statement import (
    MAX_POLICY_BYTES,
    Policy,
    Statement,
    cached_policy,
    parse_policy,
)
from lightningstor_types.scope import principal_arn

__all__ = [
    "MAX_POLICY_BYTES",
    "Policy",
    "Statement",
    "cached_policy",
    "parse_policy",
    "principal_arn",
]
