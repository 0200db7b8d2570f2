"""A local stand-in for the social platforms, speaking their documented APIs over real HTTP.

It imitates the platforms from their documentation and specs (../shared/PLATFORMS.md,
../shared/specs/); it must never import the providers, or it would only mirror our
own assumptions. It imports nothing of the project but `letsgrow.lib`.
"""
