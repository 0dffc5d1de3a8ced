"""Business operations. Each checks the caller's role and writes the audit log."""
