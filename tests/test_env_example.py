"""docker/.env.example documents every variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"|env_secret\(\s*"([A-Z][A-Z0-9_]+)"')


def test_every_environment_variable_is_documented():
    read = set()
    for settings_file in (ROOT / "letsgrow" / "settings").glob("*.py"):
        for match in READ.finditer(settings_file.read_text()):
            read.add(match.group(1) or match.group(2))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / "docker" / ".env.example").read_text(), re.M))

    assert read, "the pattern found no variables: has the settings style changed?"
    assert read - documented == set()
