"""Engine adapters behind one protocol: local subprocess, Ray Jobs, Slurm, Kubernetes."""

from wanka.platform.executors.base import (
    TAG,
    EngineStatus,
    Executor,
    ExecutorUnavailable,
    JobSpec,
    get_executor,
    register_executor,
)

__all__ = [
    "TAG",
    "EngineStatus",
    "Executor",
    "ExecutorUnavailable",
    "JobSpec",
    "get_executor",
    "register_executor",
]
