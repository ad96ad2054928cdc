"""docker-compose.yml must at least parse, and start what the README says it starts."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from foundation.company import load_companies, procountor_api_keys
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_declares_the_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "severa-sandbox", "procountor-sandbox", "worker"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["worker"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_compose_worker_has_what_the_worker_checks_before_starting() -> None:
    """The worker refuses to start without each enabled company's API key, and the URLs name the API roots."""
    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["environment"]
    companies = load_companies(ROOT / environment["SEVPRO_COMPANIES_FILE"].removeprefix("/app/"))
    assert procountor_api_keys(companies, environment) == {"FI": DEMO_FI_API_KEY, "SE": DEMO_SE_API_KEY}
    assert environment["SEVPRO_SEVERA_URL"].endswith("/rest-api")
    assert environment["SEVPRO_PROCOUNTOR_URL"].endswith("/api")


def test_compose_config_where_the_client_has_compose() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose plugin here; the YAML test above still checks the file")
    result = subprocess.run([docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    assert packages <= copied, f"Dockerfile does not COPY {sorted(packages - copied)}"


def test_compose_worker_passes_every_setting_the_worker_requires() -> None:
    """The worker refuses to start without its tenant, companies file and credentials (no demo defaults)."""
    from foundation.settings import Settings, missing_for_worker

    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["environment"]
    prefixed = {k.removeprefix("SEVPRO_").lower(): v for k, v in environment.items() if k.startswith("SEVPRO_")}
    settings = Settings.model_validate({k: v for k, v in prefixed.items() if k in Settings.model_fields})
    assert missing_for_worker(settings) == []


def test_compose_shows_the_kafka_security_settings_commented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    commented = {line.strip().lstrip("#").strip().split(":")[0] for line in text.splitlines()
                 if line.strip().startswith("#")}
    assert {"KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD_FILE",
            "KAFKA_SSL_CA_FILE"} <= commented


def test_the_image_runs_as_a_non_root_user() -> None:
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    users = [words[1] for words in lines if words[0] == "USER"]
    assert users, "the Dockerfile has no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, words in enumerate(lines) if words[0] == "USER")
    assert lines[-1][0] in ("ENTRYPOINT", "CMD") and last_user < len(lines) - 1
    assert not any(words[0] == "RUN" for words in lines[last_user:]), "RUN after USER would need root"
