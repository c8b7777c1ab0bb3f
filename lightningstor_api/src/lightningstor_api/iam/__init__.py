"""Authorization: the embedded policy engine, the IAM client, the IAM server, the audit log."""

from lightningstor_api.authz import Decision
from lightningstor_api.iam.client import IamClientAuthorizer
from lightningstor_api.iam.embedded import EmbeddedAuthorizer
from lightningstor_api.iam.factory import build_authorizer
from lightningstor_api.iam.policy import Binding, PolicyEngine

__all__ = [
    "Binding",
    "Decision",
    "EmbeddedAuthorizer",
    "IamClientAuthorizer",
    "PolicyEngine",
    "build_authorizer",
]
