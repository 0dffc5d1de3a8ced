"""Plain domain types: no Qt, no pymongo."""
