"""The content-mix inputs (one percentage per content domain) shared by onboarding and the content planner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms


class ContentMixFields:
    """A form mixin: `add_mix_fields(domains)` adds a whole-number share field per domain (`mix_<key>`)."""

    domains: list[Any]
    fields: dict[str, forms.Field]

    def add_mix_fields(self, domains: Sequence[Any]) -> None:
        self.domains = list(domains)
        for domain in self.domains:
            self.fields[self.mix_field_name(domain.key)] = forms.IntegerField(
                label=domain.name,
                widget=forms.NumberInput(
                    attrs={"class": "form-control", "min": 0, "max": 100, "step": 1, "data-mix": domain.key}
                ),
                error_messages={
                    "required": f"Give {domain.name} a share (0 if none).",
                    "invalid": f"The share of {domain.name} must be a whole number.",
                },
            )

    @staticmethod
    def mix_field_name(key: str) -> str:
        return f"mix_{key}"

    def mix_fields(self) -> list[forms.BoundField]:
        return [self[self.mix_field_name(domain.key)] for domain in self.domains]  # type: ignore[index]

    def mix_values(self, data: dict[str, Any]) -> dict[str, int]:
        """The cleaned shares by domain key."""
        return {domain.key: data[self.mix_field_name(domain.key)] for domain in self.domains}
