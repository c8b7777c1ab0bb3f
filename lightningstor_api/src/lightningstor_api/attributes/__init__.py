"""GetObjectAttributes: a version's metadata, stored checksums and a page of its parts."""

from lightningstor_api.attributes.read import MAX_PARTS, get_object_attributes

__all__ = ["MAX_PARTS", "get_object_attributes"]
