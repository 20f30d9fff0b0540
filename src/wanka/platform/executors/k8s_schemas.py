"""JSON Schemas (draft 2020-12) of the Kubernetes objects the platform renders.

Written for the fields the renderers emit, from the upstream definitions (types, enums, limits,
required keys): Kueue v1beta1 CRDs `config/components/crd/bases/kueue.x-k8s.io_{clusterqueues,
localqueues,resourceflavors}.yaml` (kubernetes-sigs/kueue), Volcano CRDs
`config/crd/volcano/bases/{batch.volcano.sh_jobs,scheduling.volcano.sh_queues}.yaml`
(volcano-sh/volcano), and the Kubernetes API reference for batch/v1 Job and core/v1 PodSpec.
Unknown keys are refused (`additionalProperties: false`) where the renderer controls the object, so a
typo in a renderer fails its test instead of being silently dropped by the API server's pruning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS"]

DNS_LABEL = {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
DNS_SUBDOMAIN = {
    "type": "string",
    "maxLength": 253,
    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}
QUANTITY = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string",
            "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"}]}  # fmt: skip
LABELS = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}}


def _meta(namespaced: bool) -> dict[str, Any]:
    req = ["name", "namespace"] if namespaced else ["name"]
    return {
        "type": "object",
        "required": req,
        "properties": {"name": DNS_SUBDOMAIN, "namespace": DNS_LABEL, "labels": LABELS,
                       "annotations": {"type": "object"}},
        "additionalProperties": False,
    }  # fmt: skip


def _top(api: str, kind: str, spec: dict[str, Any], namespaced: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api},
            "kind": {"const": kind},
            "metadata": _meta(namespaced),
            "spec": spec,
        },
        "additionalProperties": False,
    }


CONTAINER = {
    "type": "object",
    "required": ["name", "image"],
    "properties": {
        "name": DNS_LABEL,
        "image": {"type": "string", "minLength": 1},
        "command": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "array", "items": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                "additionalProperties": False}},
        "resources": {"type": "object", "properties": {
            "limits": {"type": "object", "additionalProperties": QUANTITY},
            "requests": {"type": "object", "additionalProperties": QUANTITY}},
            "additionalProperties": False},
    },
    "additionalProperties": False,
}  # fmt: skip
POD_TEMPLATE = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "metadata": {"type": "object", "properties": {"labels": LABELS}},
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
                "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
                "schedulerName": {"type": "string"},
                "priorityClassName": {"type": "string"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

JOB = _top("batch/v1", "Job", {
    "type": "object",
    "required": ["template"],
    "properties": {
        "suspend": {"type": "boolean"},
        "parallelism": {"type": "integer", "minimum": 0},
        "completions": {"type": "integer", "minimum": 0},
        "backoffLimit": {"type": "integer", "minimum": 0},
        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
        "template": POD_TEMPLATE,
    },
    "additionalProperties": False,
}, namespaced=True)  # fmt: skip

RESOURCE_QUOTA = {
    "type": "object",
    "required": ["name", "nominalQuota"],
    "properties": {"name": {"type": "string"}, "nominalQuota": QUANTITY,
                   "borrowingLimit": QUANTITY, "lendingLimit": QUANTITY},
    "additionalProperties": False,
}  # fmt: skip
CLUSTER_QUEUE = _top("kueue.x-k8s.io/v1beta1", "ClusterQueue", {
    "type": "object",
    "properties": {
        "cohort": {"type": "string", "maxLength": 253},
        "namespaceSelector": {"type": "object"},
        "queueingStrategy": {"enum": ["StrictFIFO", "BestEffortFIFO"]},
        "resourceGroups": {"type": "array", "maxItems": 16, "items": {
            "type": "object", "required": ["coveredResources", "flavors"],
            "properties": {
                "coveredResources": {"type": "array", "minItems": 1, "maxItems": 64,
                                     "items": {"type": "string"}},
                "flavors": {"type": "array", "minItems": 1, "maxItems": 64, "items": {
                    "type": "object", "required": ["name", "resources"],
                    "properties": {"name": DNS_SUBDOMAIN, "resources": {
                        "type": "array", "minItems": 1, "maxItems": 64, "items": RESOURCE_QUOTA}},
                    "additionalProperties": False}},
            }, "additionalProperties": False}},
        "preemption": {"type": "object", "properties": {
            "reclaimWithinCohort": {"enum": ["Never", "LowerPriority", "Any"]},
            "withinClusterQueue": {"enum": ["Never", "LowerPriority", "LowerOrNewerEqualPriority"]},
            "borrowWithinCohort": {"type": "object", "properties": {
                "policy": {"enum": ["Never", "LowerPriority"]},
                "maxPriorityThreshold": {"type": "integer"}}}},
            "additionalProperties": False},
        "fairSharing": {"type": "object", "properties": {"weight": QUANTITY},
                        "additionalProperties": False},
    },
    "additionalProperties": False,
}, namespaced=False)  # fmt: skip
LOCAL_QUEUE = _top("kueue.x-k8s.io/v1beta1", "LocalQueue", {
    "type": "object", "required": ["clusterQueue"],
    "properties": {"clusterQueue": DNS_SUBDOMAIN}, "additionalProperties": False,
}, namespaced=True)  # fmt: skip
RESOURCE_FLAVOR = _top("kueue.x-k8s.io/v1beta1", "ResourceFlavor", {
    "type": "object",
    "properties": {"nodeLabels": {"type": "object", "maxProperties": 8,
                                  "additionalProperties": {"type": "string", "maxLength": 63}}},
    "additionalProperties": False,
}, namespaced=False)  # fmt: skip

VOLCANO_QUEUE = _top("scheduling.volcano.sh/v1beta1", "Queue", {
    "type": "object",
    "properties": {
        "weight": {"type": "integer", "minimum": 1, "maximum": 65535},
        "capability": {"type": "object", "additionalProperties": QUANTITY},
        "deserved": {"type": "object", "additionalProperties": QUANTITY},
        "reclaimable": {"type": "boolean"},
    },
    "additionalProperties": False,
}, namespaced=False)  # fmt: skip
VOLCANO_JOB = _top("batch.volcano.sh/v1alpha1", "Job", {
    "type": "object",
    "required": ["tasks"],
    "properties": {
        "schedulerName": {"type": "string"},
        "minAvailable": {"type": "integer", "minimum": 0},
        "queue": {"type": "string"},
        "maxRetry": {"type": "integer", "minimum": 0},
        "priorityClassName": {"type": "string"},
        "tasks": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["template"],
            "properties": {"name": DNS_LABEL, "replicas": {"type": "integer", "minimum": 0},
                           "minAvailable": {"type": "integer", "minimum": 0},
                           "template": POD_TEMPLATE},
            "additionalProperties": False}},
        "policies": {"type": "array", "items": {"type": "object", "properties": {
            "event": {"type": "string"}, "action": {"type": "string"}}}},
    },
    "additionalProperties": False,
}, namespaced=True)  # fmt: skip

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("batch/v1", "Job"): JOB,
    ("kueue.x-k8s.io/v1beta1", "ClusterQueue"): CLUSTER_QUEUE,
    ("kueue.x-k8s.io/v1beta1", "LocalQueue"): LOCAL_QUEUE,
    ("kueue.x-k8s.io/v1beta1", "ResourceFlavor"): RESOURCE_FLAVOR,
    ("scheduling.volcano.sh/v1beta1", "Queue"): VOLCANO_QUEUE,
    ("batch.volcano.sh/v1alpha1", "Job"): VOLCANO_JOB,
}
