"""POST Object: browser form uploads, authorized by a SigV4-signed POST policy."""

from lightningstor_s3.postobject.form import form_boundary
from lightningstor_s3.postobject.upload import FormUploads

__all__ = ["FormUploads", "form_boundary"]
