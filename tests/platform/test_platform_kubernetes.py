"""Kubernetes rendering (Kueue and Volcano): objects validate against their schemas, map the quota
model faithfully, and a pool without KUBECONFIG keeps its jobs queued with the reason. No live
cluster here: these tests do not claim the objects were applied anywhere."""

from __future__ import annotations

import pytest

from wanka.errors import ConfigError
from wanka.platform.executors import JobSpec, get_executor
from wanka.platform.executors.kubernetes import render_job, render_quotas, validate

JOB = JobSpec(
    id="0123abcd",
    tenant="t1",
    name="train",
    command="python train.py",
    accelerators=8,
    time_limit_s=3600,
)


def test_kueue_job_is_a_suspended_job_in_the_local_queue() -> None:
    obj = render_job(JOB, {"image": "nvcr.io/nvidia/pytorch:24.05-py3", "queue": "h100-alpha"})
    assert obj["kind"] == "Job" and obj["spec"]["suspend"] is True
    assert obj["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "h100-alpha"
    assert obj["metadata"]["name"] == "wanka-0123abcd"
    limits = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": 8} and obj["spec"]["activeDeadlineSeconds"] == 3600


def test_volcano_job_uses_the_queue_and_scheduler() -> None:
    obj = render_job(
        JOB,
        {
            "image": "img",
            "queue": "h100-alpha",
            "scheduler": "volcano",
            "resource": "huawei.com/ascend-910b",
        },
    )
    assert obj["apiVersion"] == "batch.volcano.sh/v1alpha1" and obj["spec"]["queue"] == "h100-alpha"
    pod = obj["spec"]["tasks"][0]["template"]["spec"]
    assert pod["schedulerName"] == "volcano"
    assert pod["containers"][0]["resources"]["limits"] == {"huawei.com/ascend-910b": 8}


def test_kueue_quotas_map_nominal_borrow_lend_and_cohort() -> None:
    objs = render_quotas(
        pool="h100",
        cohort="h100",
        accelerator="h100-sxm",
        resource="nvidia.com/gpu",
        namespace="team-a",
        quotas={"alpha": (16, 8, None, 2.0), "beta": (8, 0, 4, 1.0)},
    )
    kinds = [o["kind"] for o in objs]
    assert kinds == ["ResourceFlavor", "ClusterQueue", "LocalQueue", "ClusterQueue", "LocalQueue"]
    beta = objs[3]["spec"]
    res = beta["resourceGroups"][0]["flavors"][0]["resources"][0]
    assert res == {
        "name": "nvidia.com/gpu",
        "nominalQuota": 8,
        "borrowingLimit": 0,
        "lendingLimit": 4,
    }
    assert beta["cohort"] == "h100" and beta["preemption"]["reclaimWithinCohort"] == "Any"
    assert objs[2]["spec"]["clusterQueue"] == objs[1]["metadata"]["name"]


def test_volcano_queues() -> None:
    [q] = render_quotas(
        pool="p",
        cohort="p",
        accelerator="910b",
        resource="huawei.com/ascend",
        namespace="x",
        quotas={"alpha": (8, 4, None, 3.0)},
        scheduler="volcano",
    )
    assert q["spec"] == {
        "weight": 3,
        "reclaimable": True,
        "capability": {"huawei.com/ascend": 12},
        "deserved": {"huawei.com/ascend": 8},
    }


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda o: o["metadata"].update(name="Bad_Name"), "metadata/name"),  # not a DNS name
        (lambda o: o["spec"].update(suspend="yes"), "spec/suspend"),  # wrong type
        (lambda o: o["spec"].update(paralelism=2), "spec"),  # typo: unknown field
        (
            lambda o: o["spec"]["template"]["spec"].update(restartPolicy="Sometimes"),
            "restartPolicy",
        ),
    ],
)
def test_schema_catches_renderer_mistakes(mutate, where) -> None:
    obj = render_job(JOB, {"image": "img"})
    mutate(obj)
    with pytest.raises(ConfigError, match=where.split("/")[-1]):
        validate(obj)


def test_without_kubeconfig_the_pool_is_down_and_jobs_wait(api, monkeypatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    exe = get_executor("kubernetes", {"image": "img"}, "/tmp")
    ok, why = exe.health()
    assert not ok and "KUBECONFIG" in why
    api.pool("k8s", executor="kubernetes", executor_config={"image": "img"})
    _, tok = api.tenant("alpha", pool="k8s")
    _, j = api.submit(tok, "j", "true", pool="k8s")
    for _ in range(100):
        job = api.job(tok, j["id"])
        if "executor_unavailable" in (job["reason"] or ""):
            break
        import time

        time.sleep(0.05)
    assert job["state"] == "queued" and "KUBECONFIG" in job["reason"]
    st, err = api.call(
        "POST",
        "/pools",
        api.admin,
        {
            "name": "k2",
            "accelerator": "x",
            "accelerators": 1,
            "executor": "kubernetes",
            "executor_config": {},
        },
    )
    assert st == 422 and "image" in err["error"]
