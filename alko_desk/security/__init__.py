"""Keys, field encryption, blind indexes, password hashing and the audit hash chain."""
