"""ALKO Desk: the showroom desktop application of ALKO Cars."""

__version__ = "0.1.0"
APP_NAME = "ALKO Desk"
ORG_NAME = "ALKO Cars"
PRIVACY_POLICY_VERSION = "2024-01"
