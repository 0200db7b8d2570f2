"""Production settings refuse to start without their secrets, and say which are missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only",
    "FIELD_ENCRYPTION_KEY": "c2FtcGxlLXRlc3Qta2V5LWZvci1sZXRzZ3Jvdy0xMjM=",
    "DJANGO_ALLOWED_HOSTS": "letsgrow.example.com",
}


def _start_production(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.endswith("_FILE")}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "letsgrow.settings.production"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_any_secret():
    result = _start_production({})

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY, FIELD_ENCRYPTION_KEY, DJANGO_ALLOWED_HOSTS" in result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_production_names_the_one_missing_secret(missing):
    present = {k: v for k, v in SECRETS.items() if k != missing}

    result = _start_production(present)

    assert result.returncode != 0
    assert f"environment variables (or NAME_FILE pointing at a file holding the value): {missing}." in result.stderr


def test_production_starts_with_its_secrets():
    result = _start_production(SECRETS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_a_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(SECRETS["DJANGO_SECRET_KEY"] + "\n")
    env = {k: v for k, v in SECRETS.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_SECRET_KEY_FILE"] = str(secret_file)

    result = _start_production(env)

    assert result.returncode == 0, result.stderr
