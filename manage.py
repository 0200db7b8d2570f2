#!/usr/bin/env python
"""Django's command-line utility. Defaults to the laptop settings (`letsgrow.settings.local`)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "letsgrow.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
