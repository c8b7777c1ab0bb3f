"""Identity: S3 credentials (encrypted at rest), their resolver, and the first-start admin key."""

from lightningstor_api.identity.bootstrap import ensure_admin_credential
from lightningstor_api.identity.credentials import CredentialManager
from lightningstor_api.identity.sealing import SecretBox, load_secret_box

__all__ = ["CredentialManager", "SecretBox", "ensure_admin_credential", "load_secret_box"]
