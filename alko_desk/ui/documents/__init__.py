"""ID documents on the desk: capture (file, drop, scan), edit, MRZ comparison, the list."""
