"""compose.yaml wires the three images as the cluster does (no engine needed to check its structure:
podman-compose is not used here, so the file is read and checked against the Dockerfile and the
ui image's entrypoint)."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_each_service_builds_its_own_target():
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, flags=re.MULTILINE))
    services = COMPOSE["services"]
    assert set(services) == {"chatbot", "extractor", "ui"}
    for name, service in services.items():
        assert service["build"]["target"] == name and name in stages
        assert service["image"].startswith(f"simplechat-{name}:")
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]  # noqa: S108


def test_ui_on_port_3000_proxies_to_the_predictors():
    ui = COMPOSE["services"]["ui"]
    assert ui["ports"] == ["3000:8080"]
    assert re.search(r"^EXPOSE 8080$", DOCKERFILE, flags=re.MULTILINE)
    env = ui["environment"]
    assert env["CHATBOT_UPSTREAM"] == "chatbot:8080" and env["EXTRACTOR_UPSTREAM"] == "extractor:8080"
    entrypoint = (ROOT / "frontend" / "nginx-entrypoint.sh").read_text(encoding="utf-8")
    for variable in env:  # every variable set here is one the entrypoint reads
        assert f"${{{variable}" in entrypoint, variable
    assert {d: c["condition"] for d, c in ui["depends_on"].items()} == {
        "chatbot": "service_healthy",
        "extractor": "service_healthy",
    }


def test_predictors_bake_a_model_by_default_and_check_their_own_readiness():
    for name in ("chatbot", "extractor"):
        service = COMPOSE["services"][name]
        arg = f"{name.upper()}_MODEL"
        assert service["build"]["args"][arg].endswith(":-train}")  # works with no model hub
        assert re.search(rf"^ARG {arg}=none$", DOCKERFILE, flags=re.MULTILINE)
        assert f"/v1/models/{name}" in " ".join(service["healthcheck"]["test"])
