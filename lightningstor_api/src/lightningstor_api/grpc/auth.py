"""Who is calling over gRPC.

Until the IAM issue lands every call runs as the first-start admin principal (the one whose S3
key the server creates); :func:`authenticate` is the one function that issue replaces (bearer
token verified against the IAM's JWKS, or mTLS).
"""

from __future__ import annotations

import grpc.aio

from lightningstor_api.identity.bootstrap import ADMIN
from lightningstor_types.scope import Principal

LOCAL_PRINCIPAL = ADMIN


def authenticate(context: grpc.aio.ServicerContext[object, object]) -> Principal:
    """The principal of the call in ``context``."""
    return LOCAL_PRINCIPAL
