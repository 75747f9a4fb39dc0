"""deploy/k8s: schema-valid, consistent with each other and with the code's settings."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import DEPLOY
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.settings import ProfileSettings

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"
SERVICES = ("ingest", "profile", "recommend")
Manifest = dict[str, Any]


def _load_all() -> list[Manifest]:
    documents: list[Manifest] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


MANIFESTS = _load_all()


def _find(kind: str, name: str) -> Manifest:
    matches = [m for m in MANIFESTS if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _of_kind(kind: str) -> list[Manifest]:
    return [m for m in MANIFESTS if m["kind"] == kind]


def _label(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=_label)
def test_builtin_kinds_match_the_kubernetes_schema(manifest: Manifest) -> None:
    """Strict validation against the Kubernetes OpenAPI schema (unknown fields rejected)."""
    if manifest["apiVersion"].startswith("keda.sh/"):
        pytest.skip("KEDA's CRD is checked structurally below")
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=_label)
def test_every_object_is_named_namespaced_and_labelled(manifest: Manifest) -> None:
    """apiVersion, kind, name; everything but the Namespace lives in `touchpoint`."""
    assert manifest["apiVersion"]
    assert manifest["kind"]
    metadata = manifest["metadata"]
    assert metadata["name"]
    assert metadata["labels"]["app.kubernetes.io/part-of"] == "touchpoint"
    if manifest["kind"] != "Namespace":
        assert metadata["namespace"] == "touchpoint"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes_resources_and_selectors(service: str) -> None:
    """Selector matches the pod labels; readiness on /readyz, liveness on /healthz, both on a
    declared port; CPU and memory requests and a memory limit; config from the ConfigMap
    and Secret that exist."""
    deployment = _find("Deployment", f"touchpoint-{service}")
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    [container] = spec["template"]["spec"]["containers"]
    port_names = {port["name"] for port in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names
    requests = container["resources"]["requests"]
    assert {"cpu", "memory"} <= set(requests)
    assert "memory" in container["resources"]["limits"]
    for source in container["envFrom"]:
        if "configMapRef" in source:
            _find("ConfigMap", source["configMapRef"]["name"])
        if "secretRef" in source:
            _find("Secret", source["secretRef"]["name"])
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["TOUCHPOINT_SERVICE_NAME"] == service
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_selects_its_deployment_pods(service: str) -> None:
    """The Service selector matches the pod labels and targets a declared container port."""
    svc = _find("Service", f"touchpoint-{service}")
    deployment = _find("Deployment", f"touchpoint-{service}")
    pod = deployment["spec"]["template"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
    for port in svc["spec"]["ports"]:
        assert port["targetPort"] in port_names


def test_disruption_budgets_select_existing_pods() -> None:
    """Each PodDisruptionBudget selects the pods of a Deployment."""
    pod_label_sets = [d["spec"]["template"]["metadata"]["labels"] for d in _of_kind("Deployment")]
    budgets = _of_kind("PodDisruptionBudget")
    assert budgets
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= labels.items() for labels in pod_label_sets)


def test_keda_scales_profile_on_its_consumer_group_lag() -> None:
    """The ScaledObject targets the profile Deployment with a kafka trigger on the group and
    topic the code uses, and never asks for more replicas than there are partitions."""
    scaled = _find("ScaledObject", "touchpoint-profile")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    _find(target.get("kind", "Deployment"), target["name"])
    assert target["name"] == "touchpoint-profile"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    config = _find("ConfigMap", "touchpoint-config")["data"]
    assert metadata["consumerGroup"] == ProfileSettings().consumer_group
    assert metadata["topic"] == config["TOUCHPOINT_TOPIC_INTERACTIONS"]
    assert metadata["topic"] == CommonSettings().topic_interactions
    assert metadata["bootstrapServers"] == config["TOUCHPOINT_KAFKA_BOOTSTRAP"]
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["allowIdleConsumers"] == "false"
    partitions = int(config["TOUCHPOINT_TOPIC_PARTITIONS"])
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= partitions


KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


def test_keda_reaches_the_broker_as_the_services_do() -> None:
    """The ScaledObject's kafka trigger authenticates through a TriggerAuthentication whose
    every parameter comes from an existing Secret key: KEDA's SASL mode and TLS switch match
    the services' protocol and mechanism, and its user, password and CA are the services' own
    (the CA key is the file TOUCHPOINT_KAFKA_SSL_CAFILE names)."""
    scaled = _find("ScaledObject", "touchpoint-profile")
    [trigger] = scaled["spec"]["triggers"]
    auth = _find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    values: dict[str, str] = {}
    for ref in auth["spec"]["secretTargetRef"]:
        secret = _find("Secret", ref["name"])
        values[ref["parameter"]] = secret["stringData"][ref["key"]]
    config = _find("ConfigMap", "touchpoint-config")["data"]
    secrets = _find("Secret", "touchpoint-secrets")["stringData"]
    assert values["sasl"] == KEDA_SASL[config["TOUCHPOINT_KAFKA_SASL_MECHANISM"]]
    assert config["TOUCHPOINT_KAFKA_SECURITY_PROTOCOL"].endswith("SSL")
    assert values["tls"] == "enable"
    assert values["username"] == secrets["TOUCHPOINT_KAFKA_SASL_USERNAME"]
    assert values["password"] == secrets["TOUCHPOINT_KAFKA_SASL_PASSWORD"]
    [ca_ref] = [ref for ref in auth["spec"]["secretTargetRef"] if ref["parameter"] == "ca"]
    assert config["TOUCHPOINT_KAFKA_SSL_CAFILE"].endswith("/" + ca_ref["key"])


def test_configmap_names_real_settings() -> None:
    """Every TOUCHPOINT_* key in the ConfigMap and Secret is a setting the code reads."""
    from touchpoint_common.ops.settings import OpsSettings
    from touchpoint_ingest.settings import IngestSettings
    from touchpoint_recommend.settings import RecommendSettings

    known: set[str] = set()
    for settings_class in (CommonSettings, IngestSettings, ProfileSettings, RecommendSettings):
        known |= {f"TOUCHPOINT_{field.upper()}" for field in settings_class.model_fields}
    known |= {f"TOUCHPOINT_OPS_{field.upper()}" for field in OpsSettings.model_fields}
    config = _find("ConfigMap", "touchpoint-config")["data"]
    secret = _find("Secret", "touchpoint-secrets")["stringData"]
    unknown = (set(config) | set(secret)) - known
    assert not unknown, sorted(unknown)


def test_kustomization_lists_every_manifest() -> None:
    """kustomization.yaml names each manifest file exactly once, and only existing ones."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == files


def test_kubectl_kustomize_builds() -> None:
    """`kubectl kustomize deploy/k8s` renders every object (runs offline)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(_label(m) for m in rendered) == sorted(_label(m) for m in MANIFESTS)


def test_schema_check_rejects_a_misspelt_field() -> None:
    """The strict check is not a no-op: a misspelt probe field in a copy is refused."""
    deployment = yaml.safe_load((K8S / "profile.yaml").read_text().split("\n---\n")[0])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGett"] = container["readinessProbe"].pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
