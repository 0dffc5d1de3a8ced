"""Printable documents (PDF) and e-invoices (EN 16931 CII), from plain domain records.

No Qt and no database here: functions take models and return bytes, so that the
services, the command line and the benchmarks render exactly the same thing.
"""
