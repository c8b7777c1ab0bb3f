"""Tenants at runtime: the embedded IAM's roles, groups and bindings, kept in the metadata store."""

from lightningstor_api.tenants.directory import TenantDirectory
from lightningstor_api.tenants.service import TenantAdmin

__all__ = ["TenantAdmin", "TenantDirectory"]
