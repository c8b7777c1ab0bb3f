"""LightningStor shared types: the domain rules, the error catalog and the action names.

The public names are listed in ``__all__`` (kept sorted, as ruff wants); add a module's names
there when it gains public ones. The individual errors of the catalog (``NoSuchBucket``,
``InvalidArgument``, …) are imported from :mod:`lightningstor_types.errors` itself.
"""

from lightningstor_types.actions import COPY_SOURCE_ACTION, OPERATION_ACTIONS, Action, action_for
from lightningstor_types.errors import (
    ALL_ERRORS,
    GRPC_ERROR_CODE_KEY,
    GRPC_ERROR_DETAILS_PREFIX,
    AlreadyExistsError,
    AuthenticationError,
    FailedPreconditionError,
    InvalidInputError,
    LightningStorError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
    error_for_code,
    error_from_grpc,
)
from lightningstor_types.naming import (
    validate_bucket_name,
    validate_object_key,
    validate_scope_id,
    validate_tags,
    validate_user_metadata,
)
from lightningstor_types.resources import (
    Resource,
    bucket_resource,
    object_resource,
    parse_resource,
    scope_resource,
)
from lightningstor_types.scope import Principal, Scope

__all__ = [
    "ALL_ERRORS",
    "COPY_SOURCE_ACTION",
    "GRPC_ERROR_CODE_KEY",
    "GRPC_ERROR_DETAILS_PREFIX",
    "OPERATION_ACTIONS",
    "Action",
    "AlreadyExistsError",
    "AuthenticationError",
    "FailedPreconditionError",
    "InvalidInputError",
    "LightningStorError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "Principal",
    "Resource",
    "ResourceExhaustedError",
    "Scope",
    "UnavailableError",
    "action_for",
    "bucket_resource",
    "error_for_code",
    "error_from_grpc",
    "object_resource",
    "parse_resource",
    "scope_resource",
    "validate_bucket_name",
    "validate_object_key",
    "validate_scope_id",
    "validate_tags",
    "validate_user_metadata",
]
