"""Who calls over gRPC besides bearer tokens: once-only access-key signatures, certificates."""

from lightningstor_api.callers.certificates import CertificatePrincipals
from lightningstor_api.callers.signatures import SignatureMemory

__all__ = ["CertificatePrincipals", "SignatureMemory"]
