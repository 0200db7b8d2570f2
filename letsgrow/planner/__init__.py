"""The content planner ("30 days of content in 30 seconds"): wiring content's AI and publishing's queue slots."""
