"""Console users: `sevpro console user add` writes an argon2 hash (never the password), and the console does
not start when nobody could sign in."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.auth import UsersFileError, auth_from_settings, load_users, verify_password
from foundation.settings import Settings
from sevpro.cli import app

PASSWORD = "a long enough secret"


def test_user_add_prompts_twice_and_writes_only_a_hash(tmp_path: Path) -> None:
    users = tmp_path / "home" / "console-users"
    result = CliRunner().invoke(app, ["console", "user", "add", "ops", "--users-file", str(users)],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert f"added ops in {users}" in result.output
    text = users.read_text()
    assert PASSWORD not in text and PASSWORD not in result.output
    hashed = load_users(users)["ops"]
    assert hashed.startswith("$argon2id$") and verify_password(hashed, PASSWORD)
    assert stat.S_IMODE(users.stat().st_mode) == 0o600  # hashes are not for other local users to crack
    # A second add sets a new password; the first one no longer works.
    again = CliRunner().invoke(app, ["console", "user", "add", "ops", "--users-file", str(users)],
                               input="another long secret\nanother long secret\n")
    assert again.exit_code == 0 and "new password for ops" in again.output
    assert not verify_password(load_users(users)["ops"], PASSWORD)
    removed = CliRunner().invoke(app, ["console", "user", "remove", "ops", "--users-file", str(users)])
    assert removed.exit_code == 0 and load_users(users) == {}


def test_user_add_refuses_a_short_password_and_a_mistyped_confirmation(tmp_path: Path) -> None:
    users = tmp_path / "console-users"
    short = CliRunner().invoke(app, ["console", "user", "add", "ops", "--users-file", str(users)],
                               input="short\nshort\n")
    assert short.exit_code == 2 and "10 characters" in short.output and not users.exists()
    mistyped = CliRunner().invoke(app, ["console", "user", "add", "ops", "--users-file", str(users)],
                                  input=f"{PASSWORD}\n{PASSWORD}x\n")
    assert mistyped.exit_code != 0 and not users.exists()


def test_a_broken_users_file_names_the_line(tmp_path: Path) -> None:
    users = tmp_path / "console-users"
    users.write_text("# users\nops:$argon2id$v=19$m=65536,t=3,p=4$abc$def\nbob:plaintext-password\n")
    with pytest.raises(UsersFileError, match=r"console-users:3: expected 'name:\$argon2id"):
        load_users(users)


def test_settings_decide_hosts_cookies_and_users(tmp_path: Path) -> None:
    users = tmp_path / "console-users"
    users.write_text("ops:$argon2id$v=19$m=65536,t=3,p=4$abc$def\n")
    loopback = auth_from_settings(Settings(console_users_file=users), "127.0.0.1")
    assert loopback.allowed_hosts == ("127.0.0.1", "localhost", "::1") and not loopback.secure_cookies
    exposed = auth_from_settings(Settings(console_users_file=users,
                                          console_allowed_hosts="console.example.com"), "0.0.0.0")
    assert exposed.allowed_hosts == ("console.example.com",) and exposed.secure_cookies
    with pytest.raises(UsersFileError, match="SEVPRO_CONSOLE_USERS: user 'x': expected an argon2 hash"):
        auth_from_settings(Settings(console_users_file=users, console_users={"x": "secret"}), "127.0.0.1")


def test_the_console_does_not_start_without_users(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEVPRO_")} | {"SEVPRO_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "sevpro.cli", "console", "--port", "1"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "no console users: add one with `sevpro console user add NAME`" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_makes_a_console_user_with_the_password_it_prints(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sevpro.demo import console_login

    monkeypatch.setenv("SEVPRO_HOME", str(tmp_path))
    user, password = console_login()
    again_user, again = console_login()
    assert user == again_user == "demo" and password != again  # a new password at every demo start
    users = load_users(tmp_path / "console-users")
    assert verify_password(users["demo"], again) and not verify_password(users["demo"], password)
