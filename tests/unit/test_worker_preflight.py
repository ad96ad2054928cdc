"""`sevpro worker` refuses settings it cannot run with before it starts: one message, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.company import demo_companies_path


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    # KAFKA_BOOTSTRAP_SERVERS points nowhere: a worker that got past its checks would fail differently.
    return subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True, timeout=60,
                          env={**base, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "400", **env})


def test_missing_api_key_names_the_company_and_the_variable() -> None:
    result = _worker({**DEPLOYMENT, "SEVPRO_PROCOUNTOR_API_KEY_FI": "a-key-that-must-not-be-printed"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "company 'SE'" in output and "SEVPRO_PROCOUNTOR_API_KEY_SE" in output
    assert "company 'FI'" not in output
    assert "Traceback" not in output and "a-key-that-must-not-be-printed" not in output


def test_invalid_companies_file_names_the_company_and_the_field(tmp_path: Path) -> None:
    text = demo_companies_path().read_text().replace("send_error_email = false", "send_error_email = true", 1)
    broken = tmp_path / "companies.toml"
    broken.write_text(text)
    result = _worker({**DEPLOYMENT, "SEVPRO_COMPANIES_FILE": str(broken)})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "company '" in output and "error_email" in output and "Traceback" not in output


def test_invalid_setting_names_the_variable_without_its_value() -> None:
    result = _worker({**DEPLOYMENT, "SEVPRO_TRANSFER_CONCURRENCY": "sixteen", "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1",
                      "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SEVPRO_TRANSFER_CONCURRENCY" in output and "sixteen" not in output and "Traceback" not in output


def test_a_session_timeout_kafka_would_refuse_is_named() -> None:
    result = _worker({**DEPLOYMENT, "SEVPRO_SESSION_TIMEOUT_SECONDS": "2", "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1",
                      "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SEVPRO_SESSION_TIMEOUT_SECONDS" in output and "6" in output and "Traceback" not in output


DEPLOYMENT = {"SEVPRO_TENANT": "acme", "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
              "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
              "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2"}


def test_a_worker_without_explicit_settings_names_every_missing_one() -> None:
    """Without them it used to run the demo's companies and sandbox credentials, quietly."""
    result = _worker({})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert len(output.strip().splitlines()) == 1, output
    for name in DEPLOYMENT:
        assert name in output, name
    assert "sevpro demo" in output and "Traceback" not in output
    # One missing is named alone.
    partial = _worker({k: v for k, v in DEPLOYMENT.items() if k != "SEVPRO_PROCOUNTOR_CLIENT_SECRET"})
    assert partial.returncode == 2
    assert "SEVPRO_PROCOUNTOR_CLIENT_SECRET" in partial.stdout and "SEVPRO_TENANT" not in partial.stdout


def test_every_secret_can_come_from_a_file(tmp_path: Path) -> None:
    """As Docker and Kubernetes mount secrets: SEVPRO_<NAME>_FILE, and <API key variable>_FILE."""
    from foundation.company import load_companies, procountor_api_keys
    from foundation.settings import Settings, SettingsError

    secret = tmp_path / "severa-secret"
    secret.write_text("from-a-file\n")
    env = {k: v for k, v in DEPLOYMENT.items() if k != "SEVPRO_SEVERA_CLIENT_SECRET"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**env, "SEVPRO_SEVERA_CLIENT_SECRET_FILE": str(secret),
                            "SEVPRO_SMTP_PASSWORD_FILE": str(secret),
                            "SEVPRO_CONSOLE_SESSION_SECRET_FILE": str(secret)}.items():
            patch.setenv(name, value)
        settings = Settings()
        assert settings.severa_client_secret.get_secret_value() == "from-a-file"  # the trailing newline goes
        assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "from-a-file"
        assert settings.console_session_secret is not None
        patch.setenv("SEVPRO_SEVERA_CLIENT_SECRET", "also-set")
        with pytest.raises(SettingsError, match="SEVPRO_SEVERA_CLIENT_SECRET and SEVPRO_SEVERA_CLIENT_SECRET_FILE"):
            Settings()
        patch.delenv("SEVPRO_SEVERA_CLIENT_SECRET")
        patch.setenv("SEVPRO_SEVERA_CLIENT_SECRET_FILE", str(tmp_path / "missing"))
        with pytest.raises(SettingsError, match="SEVPRO_SEVERA_CLIENT_SECRET_FILE: cannot read"):
            Settings()
        key = tmp_path / "fi-key"
        key.write_text("fi-key-from-file")
        patch.setenv("SEVPRO_PROCOUNTOR_API_KEY_FI_FILE", str(key))
        patch.setenv("SEVPRO_PROCOUNTOR_API_KEY_SE", "se-key")
        keys = procountor_api_keys(load_companies(demo_companies_path()), dict(os.environ))
        assert keys == {"FI": "fi-key-from-file", "SE": "se-key"}


def test_a_secret_file_that_cannot_be_read_stops_the_worker_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in DEPLOYMENT.items() if k != "SEVPRO_SEVERA_CLIENT_SECRET"}
    result = _worker({**env, "SEVPRO_SEVERA_CLIENT_SECRET_FILE": str(tmp_path / "nope"),
                      "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1", "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SEVPRO_SEVERA_CLIENT_SECRET_FILE" in output and "Traceback" not in output
