"""Reviewed content: helplines, sources and service referral codes (content/*.yml)."""
