"""Where the rendered objects pull their images from, and who the NetworkPolicies admit."""

from __future__ import annotations

import os
import re
import subprocess

import kubernetes_validate
import yaml

from tests.chart.conftest import of_kind, render
from tests.conftest import ROOT

K8S_VERSION = "1.33"


def images(objects: list[dict]) -> list[str]:
    found = []
    for obj in objects:
        spec = obj.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("predictor") or (spec if obj["kind"] == "Pod" else {})
        found += [c["image"] for c in pod.get("containers", [])]
    return found


def test_the_committed_manifests_pull_from_a_registry_and_say_so():
    """`kubectl apply -f manifests/` on a real cluster: an unqualified image name only exists
    where someone `kind load`ed it."""
    text = (ROOT / "manifests" / "simplechat.yaml").read_text()
    objects = [o for o in yaml.safe_load_all(text) if o]
    refs = images(objects)
    assert len(refs) == 3
    for ref in refs:
        host = ref.split("/")[0]
        assert "/" in ref and ("." in host or ":" in host), f"{ref}: no registry host"
    header = [line for line in text.splitlines()[:8] if line.startswith("#")]
    registry = refs[0].rsplit("/", 1)[0]
    assert any(registry in line and "build-images.sh --push" in line for line in header), header
    assert any("KServe >= 0.16" in line for line in header)
    # The RayService pulls from the same registry.
    for obj in yaml.safe_load_all((ROOT / "manifests" / "ray" / "rayservice.yaml").read_text()):
        cluster = obj and obj["kind"] == "RayService" and obj["spec"]["rayClusterConfig"]
        for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]] if cluster else []:
            assert all(c["image"].startswith(registry + "/") for c in group["template"]["spec"]["containers"])


def test_another_registry_is_one_variable_away():
    result = subprocess.run(
        [str(ROOT / "scripts" / "render-manifests.sh"), "--stdout"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "REGISTRY": "registry.example.com/ml"},
    )
    refs = images([o for o in yaml.safe_load_all(result.stdout) if o])
    assert refs and all(r.startswith("registry.example.com/ml/simplechat-") for r in refs)
    assert "pulling images from registry.example.com/ml" in result.stdout


def test_kind_gets_unqualified_local_images(helm):
    """kind-up.sh loads images into the node and renders with an empty registry."""
    assert all(r.startswith("simplechat-") for r in images(render(helm, "--set", "image.registry=")))


def test_host_network_controllers_and_a_scraper_can_be_admitted(helm):
    objects = render(
        helm,
        "--set",
        "networkPolicy.controllerCIDRs={10.1.0.0/16,fd00::/64}",
        "--set",
        "networkPolicy.monitoringNamespace=monitoring",
    )
    policies = of_kind(objects, "NetworkPolicy")
    for name, policy in policies.items():
        kubernetes_validate.validate(policy, K8S_VERSION, strict=True)
        peers = policy["spec"]["ingress"][0]["from"]
        assert {"ipBlock": {"cidr": "10.1.0.0/16"}} in peers and {"ipBlock": {"cidr": "fd00::/64"}} in peers, name
        scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        assert (scraper in peers) == (name != "simplechat-ui"), name  # only predictors serve /metrics
    # By default neither is admitted.
    for policy in of_kind(render(helm), "NetworkPolicy").values():
        peers = policy["spec"]["ingress"][0]["from"]
        assert not [p for p in peers if "ipBlock" in p]
        assert all(
            p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            in (None, "ingress-nginx")
            for p in peers
        )


def test_the_storage_initializer_example_meets_the_restricted_standard():
    """`chatbot.model.source=hub` makes KServe inject its storage initializer with no
    securityContext; docs/examples/ ships the ClusterStorageContainer that gives it one."""
    example = yaml.safe_load((ROOT / "docs" / "examples" / "clusterstoragecontainer-restricted.yaml").read_text())
    assert example["kind"] == "ClusterStorageContainer" and example["apiVersion"] == "serving.kserve.io/v1alpha1"
    container = example["spec"]["container"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"}, "spec": {"containers": [container]}}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)  # a valid container spec
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["runAsNonRoot"] is True
    assert context["capabilities"]["drop"] == ["ALL"] and context["seccompProfile"]["type"] == "RuntimeDefault"
    assert {"prefix": "hf://"} in example["spec"]["supportedUriFormats"]
    kserve = re.search(r"^KSERVE_VERSION=(\S+)$", (ROOT / "scripts" / "lib.sh").read_text(), flags=re.MULTILINE)
    assert container["image"] == f"kserve/storage-initializer:{kserve.group(1)}"  # the KServe kind-up installs
