"""Tests for the developer scripts in scripts/."""
