"""The centre designer: which chips, how many, which network, what capex, power and time-to-train.

Input is a centre file (`load_center`, format in docs/plan.md and examples/center-10k.yaml): training goals
(model, tokens, deadline), optional serving demand, candidate accelerators (catalog ids with the count
available, unit price and optionally a measured software-efficiency profile), network options, power and
budget limits, and the economics (`wanka.catalogs.economics`). For every candidate accelerator the designer

1. lists accelerator counts that have at least one valid layout (multiples of the node size of the form
   node x 2^j x {1, 5/4, 3/2}, up to what is available) and keeps a handful around the count that
   reaches the deadline (estimated from a probe search), plus the largest available (`plan.jobs`);
2. searches the best parallel plan at each count. The plan search uses a REDUCED space for speed (vpp in
   {1,2,4,8}, micro-batch in {1,2,4}, etp in {1,2,4,8}; every other dimension as `wanka search`), timed
   with perf's default scale-out model, then re-timed on each network option's fabric (`plan.records`);
3. sizes the scale-out and scale-up fabric with `wanka.topology.fabric.design_fabric`;
4. prices it: capex, power, energy, time-to-train with goodput (`plan.goodput`), cost per million tokens;
5. names the binding constraint (deadline, budget, power, availability, memory) and its margin
   (`plan.design`).

Designs are ranked: those meeting every constraint first, then by cost per million training tokens, then
by time-to-train. Mixed fleets (two chip types, each job on one type) are formed when there are two or
more jobs (training goals and serving demands). A centre on an existing site (`plan.site`) is then fitted
to the site's racks, power and cooling.

The steps, one module each: `plan.inputs` (the typed centre file), `plan.parse` (reading it), `plan.jobs`
(counts and plans of one job on one chip), `plan.records` (typed job records), `plan.design` (pricing and
constraints of one design), this module (enumerating the designs and the ranked result).
A capex share over the depreciation period is charged to a training run for the time it occupies.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from wanka.catalogs.economics import Economics
from wanka.errors import ConfigError, WankaError
from wanka.plan.design import Design, Group, design, no_layout_design, rank_key
from wanka.plan.inputs import (
    CONSTRAINTS,
    Candidate,
    CenterSpec,
    Goal,
    Limits,
    NetworkOption,
    Serving,
)
from wanka.plan.jobs import (
    JobOption,
    best_option,
    job_options,
    nice_counts,
    serving_count,
    serving_plan,
)
from wanka.plan.parse import load_center, parse_center
from wanka.plan.records import Job, serving_job, training_job
from wanka.plan.site import SITE_ASSUMPTION, fit_designs, site_summary

__all__ = [
    "CONSTRAINTS",
    "Candidate",
    "CenterPlan",
    "CenterSpec",
    "Economics",
    "Goal",
    "JobOption",
    "Limits",
    "NetworkOption",
    "Serving",
    "design_center",
    "load_center",
    "nice_counts",
    "parse_center",
    "plan_center",
    "serving_count",
]

_ASSUMPTIONS = (
    "plan search: reduced space (vpp 1/2/4/8, micro-batch 1/2/4, etp 1/2/4/8); timed on perf's default "
    "scale-out model, best plan re-timed on each fabric",
    "goodput: {reliability}; Young/Daly checkpoint interval",
    "capex = accelerators + node overhead + fabric (scale-out and scale-up){facility}",
    "cost per million tokens = capex share over the depreciation period for the training time + "
    "energy at the stated $/kWh, over training tokens",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CenterPlan:
    """The ranked designs of one centre (`plan --json` before a site is applied)."""

    spec: CenterSpec
    designs: tuple[Design, ...]
    seconds: float
    excluded_by_site: tuple[dict[str, Any], ...] = ()
    """Designs the site cannot hold (id, reason); empty without a site."""

    def to_dict(self) -> dict[str, Any]:
        spec, eco = self.spec, self.spec.economics
        facility = " + facility" if eco.facility_usd_per_mw else ""
        reliability = spec.candidates[0].reliability.source
        out: dict[str, Any] = {
            "center": spec.name,
            "designs": [d.to_dict(rank=i) for i, d in enumerate(self.designs, 1)],
            "seconds": self.seconds,
            "goals": [
                {
                    "id": g.id,
                    "model": g.model.name,
                    "tokens": g.tokens,
                    "deadline_days": g.deadline_days,
                    "global_batch_size": g.global_batch_size,
                    "seq_len": g.model.seq_len,
                    "precision": g.precision,
                }
                for g in spec.goals
            ],
            "serving": [
                {"id": s.id, "model": s.model.name, "tokens_per_s": s.tokens_per_s}
                for s in spec.serving
            ],
            "limits": {"power_mw": spec.limits.power_mw, "budget_usd": spec.limits.budget_usd},
            "economics": {k: getattr(eco, k) for k in Economics.__dataclass_fields__},
            "assumptions": [
                a.format(reliability=reliability, facility=facility) for a in _ASSUMPTIONS
            ],
        }
        if spec.site is not None:
            out["assumptions"].append(SITE_ASSUMPTION)
            out["excluded_by_site"] = [dict(e) for e in self.excluded_by_site]
            out["site"] = site_summary(spec.site)
        return out


Options = dict[tuple[str, str], tuple[list[JobOption], float]]


class _Designer:
    """Enumerates the designs of one centre from the job options, caching fabrics."""

    def __init__(self, spec: CenterSpec, options: Options) -> None:
        self.spec = spec
        self.options = options
        self.need = {f"{g}@{a}": n for (g, a), (_, n) in options.items()}
        self._fabrics: dict[tuple[str, int, str], Any] = {}

    def fabric(self, cand: Candidate, n: int, net: NetworkOption) -> Any:
        key = (cand.accelerator.id, n, net.topology)
        if key not in self._fabrics:
            from wanka.topology.fabric import design_fabric

            try:
                self._fabrics[key] = design_fabric(
                    net.topology,
                    n,
                    radix=net.radix,
                    tiers=net.tiers,
                    oversubscription=net.oversubscription,
                    accelerator=cand.accelerator,
                )
            except WankaError:
                self._fabrics[key] = None
        return self._fabrics[key]

    def best(self, goal: Goal, cand: Candidate) -> JobOption | None:
        return best_option(goal, cand, self.options[(goal.id, cand.accelerator.id)][0])

    def single_type(self, cand: Candidate) -> Iterator[Design]:
        """The main goal at each of its counts on `cand`; other jobs at their best option."""
        spec, eco = self.spec, self.spec.economics
        main = spec.goals[0]
        opts, _ = self.options[(main.id, cand.accelerator.id)]
        if not opts:
            yield no_layout_design(main, cand)
            return
        for opt, net in itertools.product(opts, spec.networks):
            others = [(g, self.best(g, cand)) for g in spec.goals[1:]]
            if any(o is None for _, o in others):
                continue
            jobs_opts = [(main, opt)] + [(g, o) for g, o in others if o is not None]
            serving: list[Job] = [serving_job(s, cand, eco) for s in spec.serving]
            n = sum(o.count for _, o in jobs_opts) + sum(s.count for s in serving)
            fab = self.fabric(cand, n, net)
            trained: list[Job] = [training_job(g, cand, o, fab) for g, o in jobs_opts]
            jobs = tuple(trained + serving)
            yield design(
                spec, [Group(cand=cand, net=net, jobs=jobs, count=n, fabric=fab)], self.need
            )

    def mixed(self, a: Candidate, b: Candidate) -> Iterator[Design]:
        """Each job on `a` or `b` (the first job on `a`, both used), for every network option."""
        jobs_all: list[Goal | Serving] = list(self.spec.goals) + list(self.spec.serving)
        for assign in itertools.product((0, 1), repeat=len(jobs_all)):
            if 0 not in assign or 1 not in assign or assign[0] != 0:
                continue
            for net in self.spec.networks:
                d = self._mixed_design((a, b), list(zip(jobs_all, assign)), net)
                if d is not None:
                    yield d

    def _count(self, j: Goal | Serving, o: JobOption | None, cand: Candidate) -> int:
        if isinstance(j, Serving):
            return serving_count(j, cand, self.spec.economics)
        assert o is not None
        return o.count

    def _job(self, j: Goal | Serving, o: JobOption | None, cand: Candidate, fab: Any) -> Job:
        if isinstance(j, Goal) and o is not None:
            return training_job(j, cand, o, fab)
        assert isinstance(j, Serving)
        return serving_job(j, cand, self.spec.economics)

    def _mixed_design(
        self,
        cands: tuple[Candidate, Candidate],
        assigned: list[tuple[Goal | Serving, int]],
        net: NetworkOption,
    ) -> Design | None:
        sides: list[list[tuple[Goal | Serving, JobOption | None]]] = [[], []]
        for job, side in assigned:
            o = self.best(job, cands[side]) if isinstance(job, Goal) else None
            if isinstance(job, Goal) and (o is None or o.plan is None):
                return None
            sides[side].append((job, o))
        groups, fits = [], True
        for items, cand in zip(sides, cands):
            n = sum(self._count(j, o, cand) for j, o in items)
            fits = fits and n <= cand.available
            fab = self.fabric(cand, n, net)
            jobs = tuple(self._job(j, o, cand, fab) for j, o in items)
            groups.append(Group(cand=cand, net=net, jobs=jobs, count=n, fabric=fab))
        return design(self.spec, groups, self.need, mixed=True) if fits else None


def _check_serving(spec: CenterSpec) -> None:
    """Every serving job must fit on some candidate chip within its availability; when none can host
    one, no design can, and the one-line error says why (`serve plan`'s reason, per chip)."""
    for s in spec.serving:
        why = {
            c.accelerator.id: serving_plan(s, c.accelerator.id, c.available)
            for c in spec.candidates
        }
        if any(count is not None for count, _ in why.values()):
            continue
        reasons = {chip: r for chip, (_, r) in why.items()}
        text = (
            f"on every candidate: {next(iter(reasons.values()))}"
            if len(set(reasons.values())) == 1
            else "; ".join(f"{chip}: {r}" for chip, r in reasons.items())
        )
        raise ConfigError(
            f"serving job {s.id!r} fits on no candidate chip ({text}); add candidates, lower "
            "its demand or relax its limits"
        )


def _job_options(spec: CenterSpec, progress: Callable[[int, int], None] | None) -> Options:
    """Per goal and chip, a handful of counts with their best plans (steps 1-2)."""
    _check_serving(spec)
    options: Options = {}
    total = len(spec.goals) * len(spec.candidates)
    done = 0
    if progress:
        progress(0, total)
    for goal in spec.goals:
        for cand in spec.candidates:
            # leave room for this chip's share of serving when it hosts everything (single-type designs)
            room = cand.available - sum(
                serving_count(s, cand, spec.economics) for s in spec.serving
            )
            options[(goal.id, cand.accelerator.id)] = job_options(
                goal, cand, spec.counts_per_candidate, available=max(room, 0)
            )
            done += 1
            if progress:
                progress(done, total)
    return options


def plan_center(
    spec: CenterSpec, *, progress: Callable[[int, int], None] | None = None
) -> CenterPlan:
    """Every candidate design of `spec`, ranked best first (see the module docstring), fitted to the
    site when the centre names one (`plan.site.fit_designs`)."""
    t0 = time.perf_counter()
    designer = _Designer(spec, _job_options(spec, progress))
    designs: list[Design] = []
    for cand in spec.candidates:
        designs += designer.single_type(cand)
    n_jobs = len(spec.goals) + len(spec.serving)
    if spec.mixed_fleets and len(spec.candidates) >= 2 and n_jobs >= 2:
        for a, b in itertools.permutations(spec.candidates, 2):
            designs += designer.mixed(a, b)
    designs.sort(key=rank_key)
    excluded: list[dict[str, Any]] = []
    if spec.site is not None:
        designs, excluded = fit_designs(spec.site, designs)
    return CenterPlan(
        spec=spec,
        designs=tuple(designs),
        seconds=time.perf_counter() - t0,
        excluded_by_site=tuple(excluded),
    )


def design_center(
    spec: CenterSpec, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The `plan --json` object: `plan_center(spec).to_dict()`, with the site's idle existing chips fused
    into the best designs' training jobs when the centre names a site (`plan.fuse`)."""
    result = plan_center(spec, progress=progress).to_dict()
    if spec.site is not None:
        from wanka.plan.fuse import fuse_existing

        fuse_existing(spec, result)
    return result
