"""Shared helpers for the simulator tests: tiny hand-checkable clusters and job tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from wanka.sim import ClusterSpec, JobTable

FIXTURES = Path(__file__).parent / "fixtures"


def jobs(rows: list[tuple[float, int, float]], **extra: list) -> JobTable:
    """A job table from (arrival_s, size, work_s) rows, named j0, j1, ..."""
    return JobTable.build(
        name=[f"j{i}" for i in range(len(rows))],
        arrival_s=[r[0] for r in rows],
        size=[r[1] for r in rows],
        work_s=[r[2] for r in rows],
        **extra,
    )


@pytest.fixture
def make_jobs():
    return jobs


@pytest.fixture
def one_node4() -> ClusterSpec:
    return ClusterSpec.from_shape(gpus=4, gpus_per_node=4)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
