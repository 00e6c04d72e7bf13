"""Registered at import."""
