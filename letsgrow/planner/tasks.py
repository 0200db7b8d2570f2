"""Thin Celery entry points of the content planner."""
