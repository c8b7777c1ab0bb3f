"""Access beyond the IAM: bucket policies, public access blocks, the one decision, explain."""
