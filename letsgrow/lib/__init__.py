"""Shared helpers with no models: each module is small and tested in lib/tests/."""
