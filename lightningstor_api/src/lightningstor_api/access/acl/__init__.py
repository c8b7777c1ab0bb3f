"""S3 ACLs and Object Ownership: grants kept in the records, evaluated by the one decision."""
