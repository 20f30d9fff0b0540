"""Kubernetes engine with Kueue or Volcano: render the objects, validate them, apply when a cluster
is configured.

Pool `executor_config`: `scheduler` (`kueue` | `volcano`), `namespace` (default `default`),
`image` (the container image jobs run in; required), `queue` (Kueue LocalQueue / Volcano Queue
name; default the pool's), `resource` (accelerator resource name, default `nvidia.com/gpu`).

Rendering (`render_job`, `render_quotas`) maps the platform's neutral model onto the engine's
(tenant quota in a pool -> Kueue ClusterQueue with nominal/borrowing/lending limits in the pool's
cohort + a LocalQueue, pool -> ResourceFlavor; Volcano: a Queue per tenant with weight and
capability) and every rendered object is validated against `k8s_schemas`. Jobs are named
`wanka-<job id>` and labelled `wanka.io/job=<job id>`. Only when `KUBECONFIG` is set and the
`kubernetes` client is installed does the executor talk to a cluster; otherwise it reports itself
unavailable and jobs wait in `queued` with that reason. No live cluster runs in this project's CI.
"""

from __future__ import annotations

import os
from typing import Any

from wanka.errors import ConfigError
from wanka.platform.executors.base import (
    TAG,
    EngineStatus,
    ExecutorUnavailable,
    JobSpec,
    register_executor,
)

__all__ = ["KubernetesExecutor", "render_job", "render_quotas", "validate"]

LABEL = "wanka.io/job"


def validate(obj: dict[str, Any]) -> dict[str, Any]:
    """Raise ConfigError unless `obj` matches the schema of its apiVersion/kind."""
    import jsonschema

    from wanka.platform.executors.k8s_schemas import SCHEMAS

    schema = SCHEMAS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if schema is None:
        raise ConfigError(f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}")
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(root)"
        raise ConfigError(f"{obj['kind']} {where}: {err.message}"[:300])
    return obj


def _k8s_name(s: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")
    return out[:63].rstrip("-") or "x"


def _pod(job: JobSpec, image: str, resource: str) -> dict[str, Any]:
    env = [{"name": "WANKA_JOB_ID", "value": job.id}] + [
        {"name": k, "value": v} for k, v in sorted(job.env.items())
    ]
    return {
        "metadata": {"labels": {LABEL: job.id}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "main", "image": image, "command": ["/bin/sh", "-c", job.command],
                "env": env, "resources": {"limits": {resource: job.accelerators}},
            }],
        },
    }  # fmt: skip


def render_job(job: JobSpec, cfg: dict[str, Any]) -> dict[str, Any]:
    """The engine object for one job: a suspended batch/v1 Job for Kueue, or a Volcano Job."""
    ns, image = cfg.get("namespace", "default"), cfg["image"]
    queue, resource = _k8s_name(cfg.get("queue") or "wanka"), cfg.get("resource", "nvidia.com/gpu")
    meta = {"name": job.tag, "namespace": ns, "labels": {LABEL: job.id}}
    pod = _pod(job, image, resource)
    if cfg.get("scheduler", "kueue") == "volcano":
        pod["spec"]["schedulerName"] = "volcano"
        spec = {"schedulerName": "volcano", "queue": queue, "minAvailable": 1, "maxRetry": 0,
                "tasks": [{"name": "main", "replicas": 1, "template": pod}]}  # fmt: skip
        obj = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": meta}
    else:
        meta["labels"]["kueue.x-k8s.io/queue-name"] = queue
        spec = {"suspend": True, "parallelism": 1, "completions": 1, "backoffLimit": 0,
                "template": pod}  # fmt: skip
        obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}
    if job.time_limit_s:
        key = "activeDeadlineSeconds"
        if obj["kind"] == "Job" and obj["apiVersion"] == "batch/v1":
            spec[key] = int(job.time_limit_s)
    return validate({**obj, "spec": spec})


def render_quotas(
    *, pool: str, cohort: str, accelerator: str, resource: str, namespace: str,
    quotas: dict[str, tuple[int, int, int | None, float]], scheduler: str = "kueue",
) -> list[dict[str, Any]]:  # fmt: skip
    """Engine objects for a pool's quotas: tenant -> (nominal, borrow limit, lend limit, weight)."""
    out: list[dict[str, Any]] = []
    flavor = _k8s_name(f"{pool}-{accelerator}")
    if scheduler == "volcano":
        for t, (nom, bor, _lend, w) in sorted(quotas.items()):
            out.append({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue",
                        "metadata": {"name": _k8s_name(f"{pool}-{t}")},
                        "spec": {"weight": max(1, min(65535, round(w))), "reclaimable": True,
                                 "capability": {resource: nom + bor}, "deserved": {resource: nom}}})  # fmt: skip
        return [validate(o) for o in out]
    out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor",
                "metadata": {"name": flavor},
                "spec": {"nodeLabels": {"wanka.io/accelerator": _k8s_name(accelerator)}}})  # fmt: skip
    for t, (nom, bor, lend, w) in sorted(quotas.items()):
        cq = _k8s_name(f"{pool}-{t}")
        res: dict[str, Any] = {"name": resource, "nominalQuota": nom, "borrowingLimit": bor}
        if lend is not None:
            res["lendingLimit"] = lend
        out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue",
                    "metadata": {"name": cq},
                    "spec": {"cohort": _k8s_name(cohort), "queueingStrategy": "BestEffortFIFO",
                             "namespaceSelector": {},
                             "resourceGroups": [{"coveredResources": [resource],
                                                 "flavors": [{"name": flavor, "resources": [res]}]}],
                             "preemption": {"reclaimWithinCohort": "Any",
                                            "withinClusterQueue": "LowerPriority"},
                             "fairSharing": {"weight": str(w)}}})  # fmt: skip
        out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue",
                    "metadata": {"name": cq, "namespace": namespace},
                    "spec": {"clusterQueue": cq}})  # fmt: skip
    return [validate(o) for o in out]


class KubernetesExecutor:
    kind = "kubernetes"

    def __init__(self, config: dict[str, Any], workdir: str) -> None:
        if config.get("scheduler", "kueue") not in ("kueue", "volcano"):
            raise ConfigError("kubernetes executor_config.scheduler must be kueue or volcano")
        if not config.get("image"):
            raise ConfigError("a kubernetes pool needs executor_config.image (the job container)")
        self.cfg = dict(config)
        self.ns = config.get("namespace", "default")

    def _api(self) -> Any:
        if not os.environ.get("KUBECONFIG"):
            raise ExecutorUnavailable("no KUBECONFIG: objects are rendered, not applied")
        try:
            from kubernetes import client, config
        except ImportError:
            raise ExecutorUnavailable("the kubernetes client is not installed") from None
        config.load_kube_config()
        return client

    def health(self) -> tuple[bool, str]:
        try:
            self._api().VersionApi().get_code()
        except ExecutorUnavailable as e:
            return False, str(e)
        except Exception as e:  # noqa: BLE001 (any client error means: not usable now)
            return False, f"kubernetes: {type(e).__name__}"
        return True, "kubernetes reachable"

    def _custom(self) -> tuple[Any, str, str, str]:
        c = self._api()
        if self.cfg.get("scheduler") == "volcano":
            return c.CustomObjectsApi(), "batch.volcano.sh", "v1alpha1", "jobs"
        return c.BatchV1Api(), "batch", "v1", "jobs"

    def submit(self, job: JobSpec) -> str:
        obj = render_job(job, self.cfg)
        api, group, version, plural = self._custom()
        if (eid := self.find(job.id)) is not None:
            return eid
        if group == "batch":
            api.create_namespaced_job(self.ns, obj)
        else:
            api.create_namespaced_custom_object(group, version, self.ns, plural, obj)
        return job.tag

    def _list(self) -> list[dict[str, Any]]:
        api, group, version, plural = self._custom()
        if group == "batch":
            items = api.list_namespaced_job(self.ns, label_selector=LABEL).to_dict()["items"]
        else:
            items = api.list_namespaced_custom_object(
                group, version, self.ns, plural, label_selector=LABEL
            )["items"]
        return items

    def find(self, job_id: str) -> str | None:
        return next((TAG + job_id for o in self._list()
                     if o["metadata"]["name"] == TAG + job_id), None)  # fmt: skip

    def status(self, engine_id: str) -> EngineStatus:
        obj = next((o for o in self._list() if o["metadata"]["name"] == engine_id), None)
        if obj is None:
            return EngineStatus(state="lost", detail="no such object in the cluster")
        st = obj.get("status") or {}
        if "state" in st:  # Volcano: status.state.phase
            phase = (st["state"] or {}).get("phase", "Pending")
            state = {"Running": "running", "Completed": "succeeded", "Failed": "failed",
                     "Aborted": "cancelled", "Terminated": "cancelled"}.get(phase, "pending")  # fmt: skip
            return EngineStatus(state=state)
        if st.get("succeeded"):
            return EngineStatus(state="succeeded")
        if st.get("failed"):
            return EngineStatus(state="failed")
        return EngineStatus(state="running" if st.get("active") else "pending")

    def cancel(self, engine_id: str) -> None:
        api, group, version, plural = self._custom()
        if group == "batch":
            api.delete_namespaced_job(engine_id, self.ns, propagation_policy="Background")
        else:
            api.delete_namespaced_custom_object(group, version, self.ns, plural, engine_id)

    def list_owned(self) -> dict[str, str]:
        return {o["metadata"]["name"][len(TAG) :]: o["metadata"]["name"] for o in self._list()
                if o["metadata"]["name"].startswith(TAG)}  # fmt: skip

    def logs(self, engine_id: str) -> str:
        return ""


register_executor("kubernetes", KubernetesExecutor)
