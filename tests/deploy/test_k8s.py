"""Kubernetes manifests: schemas (kubernetes-validate, bundled CRD schemas) and wiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.deploy.tools import K8S_DIR, load_yaml, load_yaml_documents

pytestmark = pytest.mark.deploy

SCHEMAS = K8S_DIR / "schemas"
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SCHEMAS / "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): SCHEMAS / "prometheusrule-monitoring-v1.json",
}
# Oldest supported Kubernetes minor and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
NAMESPACE = "touchpoint-tracker"


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifest_files():
        for doc in load_yaml_documents(path):
            yield path, doc


def _find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_manifests_validate_strictly(version: str) -> None:
    checked = 0
    for path, doc in documents():
        if (doc["apiVersion"], doc["kind"]) in CRD_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{path.name} {doc['kind']}: {where}: {exc.message}", pytrace=False)
        checked += 1
    assert checked >= 9


def test_custom_resources_validate_against_bundled_crd_schemas() -> None:
    seen = set()
    for path, doc in documents():
        key = (doc["apiVersion"], doc["kind"])
        if key not in CRD_SCHEMAS:
            continue
        schema = json.loads(CRD_SCHEMAS[key].read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        assert not errors, f"{path.name}: " + "; ".join(e.message for e in errors)
        seen.add(doc["kind"])
    assert seen == {"ServiceMonitor", "PrometheusRule"}


def test_bundled_schemas_reject_mistakes() -> None:
    """The schemas catch what they are meant to catch."""
    monitor = _find("ServiceMonitor", "touchpoint-tracker")
    bad = json.loads(json.dumps(monitor))
    bad["spec"]["endpoints"][0]["interval"] = "15 seconds"
    bad["spec"]["endpionts"] = []
    schema = json.loads(CRD_SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")].read_text())
    assert len(list(jsonschema.Draft202012Validator(schema).iter_errors(bad))) == 2
    rule = _find("PrometheusRule", "touchpoint-tracker")
    bad = json.loads(json.dumps(rule))
    bad["spec"]["groups"][0]["rules"][0].pop("expr")
    schema = json.loads(CRD_SCHEMAS[("monitoring.coreos.com/v1", "PrometheusRule")].read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


def test_everything_is_in_one_namespace() -> None:
    for path, doc in documents():
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
        else:
            assert doc["metadata"]["namespace"] == NAMESPACE, path.name


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S_DIR / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())
    assert kustomization["namespace"] == NAMESPACE


def test_worker_statefulset_probes_and_port() -> None:
    worker = _find("StatefulSet", "tracker-worker")
    container = _container(worker)
    assert container["args"] == ["worker"]
    (port,) = container["ports"]
    assert port["containerPort"] == 6066
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in (port["name"], 6066)
    assert worker["spec"]["serviceName"] == "tracker-worker"
    assert worker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_collector_deployment_hpa_and_service() -> None:
    collector = _find("Deployment", "tracker-collector")
    container = _container(collector)
    assert container["args"] == ["collector"]
    assert container["ports"][0]["containerPort"] == 8088
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"]  # the HPA scales on CPU
    hpa = _find("HorizontalPodAutoscaler", "tracker-collector")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "tracker-collector",
    }
    assert hpa["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize(
    ("workload_kind", "name"),
    [("StatefulSet", "tracker-worker"), ("Deployment", "tracker-collector")],
)
def test_workloads_are_selected_by_their_service_and_run_non_root(
    workload_kind: str, name: str
) -> None:
    workload = _find(workload_kind, name)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    selector = workload["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = _find("Service", name)
    assert service["spec"]["selector"].items() <= labels.items()
    container_ports = {p["name"] for p in _container(workload)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert _container(workload)["securityContext"]["allowPrivilegeEscalation"] is False
    env_from = _container(workload)["envFrom"][0]["configMapRef"]["name"]
    config = _find("ConfigMap", env_from)["data"]
    assert config["TRACKER_WEB_HOST"] == config["TRACKER_COLLECTOR_HOST"] == "0.0.0.0"
    key_file = Path(config["TRACKER_PSEUDONYM_KEY_FILE"])
    mounts = {m["name"]: m["mountPath"] for m in _container(workload)["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    (volume,) = secrets
    assert Path(mounts[volume]) == key_file.parent
    assert secrets[volume] == "tracker-pseudonym-key"


def test_service_monitor_scrapes_both_services_as_the_alerts_expect() -> None:
    monitor = _find("ServiceMonitor", "touchpoint-tracker")
    selector = monitor["spec"]["selector"]["matchLabels"]
    job_label = monitor["spec"]["jobLabel"]
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    jobs = set()
    for name in ("tracker-worker", "tracker-collector"):
        service = _find("Service", name)
        assert selector.items() <= service["metadata"]["labels"].items()
        assert {p["name"] for p in service["spec"]["ports"]} & endpoint_ports, name
        jobs.add(service["metadata"]["labels"][job_label])
    assert jobs == {"tracker-worker", "tracker-collector"}
