"""AI generation: an OpenAI-compatible client with fallback, metering, generation and the offline generator."""
