"""The Authorizer the configuration asks for (``[iam] mode``)."""

from __future__ import annotations

from lightningstor_api.authz import Authorizer
from lightningstor_api.iam.audit import open_sink
from lightningstor_api.iam.client import IamClientAuthorizer
from lightningstor_api.iam.embedded import EmbeddedAuthorizer
from lightningstor_api.iam.policy import PolicyEngine
from lightningstor_types.config import Settings

_SINK_OPENED = False


def build_authorizer(settings: Settings) -> Authorizer:
    """embedded (the default): the policy engine in-process; external: the IAM client.

    Also opens the audit file named by ``$LIGHTNINGSTOR_AUDIT_FILE``, if set (once).
    """
    global _SINK_OPENED
    if not _SINK_OPENED:
        _SINK_OPENED = open_sink() is not None
    if settings.iam.mode == "external":
        return IamClientAuthorizer(settings.iam)
    return EmbeddedAuthorizer(PolicyEngine.from_settings(settings.iam))
