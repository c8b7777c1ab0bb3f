"""The Authorizer the configuration asks for (``[iam] mode``)."""

from __future__ import annotations

from lightningstor_api.authz import Authorizer
from lightningstor_api.iam.client import IamClientAuthorizer
from lightningstor_api.iam.embedded import EmbeddedAuthorizer
from lightningstor_api.iam.policy import PolicyEngine
from lightningstor_types.config import Settings


def build_authorizer(settings: Settings) -> Authorizer:
    """embedded (the default): the policy engine in-process; external: the IAM client."""
    if settings.iam.mode == "external":
        return IamClientAuthorizer(settings.iam)
    return EmbeddedAuthorizer(PolicyEngine.from_settings(settings.iam))
