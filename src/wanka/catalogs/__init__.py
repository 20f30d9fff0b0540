"""Shipped catalogs (YAML under `catalogs/data/`), loaded once into frozen records.

Unknown or missing keys in the data are a `CatalogError`: the catalog is checked as strictly as user input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from wanka.errors import CatalogError
from wanka.hardware import Accelerator, Server, SoftwareEfficiency
from wanka.units import (
    GiB,
    difflib_closest,
    gb_per_s,
    gbit_per_s,
    squash,
    tflops,
    unambiguous,
    without_remarks,
)

__all__ = ["accelerators", "check_keys", "get_accelerator", "load_data"]

_ACC_KEYS = {
    "id",
    "vendor",
    "name",
    "year",
    "peak_tflops",
    "hbm_gib",
    "hbm_bw_gb_s",
    "scaleup",
    "scaleout_gbit",
    "gpus_per_node",
    "tdp_w",
    "price_usd",
    "software",
    "confidence",
    "sources",
    "notes",
    "server",
    "aliases",
}
_PEAK_KEYS = {"fp32", "tf32", "bf16", "fp16", "fp8", "mxfp8", "nvfp4", "mxfp4", "int8"}
_SERVER_KEYS = {"accelerators", "rack_units", "kw", "cooling", "confidence", "source"}
_SE_KEYS = {"gemm", "attention", "memory_bw", "collective", "source"}


def load_data(name: str) -> Any:
    """Parse one YAML file shipped under `wanka/catalogs/data/`."""
    text = resources.files("wanka.catalogs").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def check_keys(
    where: str,
    got: dict[str, Any],
    allowed: set[str],
    required: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Raise CatalogError naming any unknown or missing key of a catalog record."""
    unknown = set(got) - allowed
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = set(required) - set(got)
    if missing:
        raise CatalogError(f"{where}: missing key(s) {sorted(missing)}")


def _software_efficiency(where: str, d: dict[str, Any]) -> SoftwareEfficiency:
    check_keys(where, d, _SE_KEYS, _SE_KEYS)
    return SoftwareEfficiency(**d)


def _accelerator(d: dict[str, Any], sw: dict[str, Any]) -> Accelerator:
    where = f"accelerator {d.get('id')!r}"
    check_keys(where, d, _ACC_KEYS, _ACC_KEYS - {"notes", "server", "aliases"})
    check_keys(where + " peak_tflops", d["peak_tflops"], _PEAK_KEYS)
    su, soft = d["scaleup"], d["software"]
    stack = soft["stack"]
    se = sw["accelerators"].get(d["id"]) or sw["stacks"].get(stack)
    if se is None:
        raise CatalogError(f"{where}: no software_efficiency for stack {stack!r} in software.yaml")
    domain = su.get("domain") or d["gpus_per_node"]
    server = None
    if d.get("server"):
        check_keys(where + " server", d["server"], _SERVER_KEYS, _SERVER_KEYS)
        server = Server(**d["server"])
    # Chips without a published scale-up bandwidth get none (0): traffic then runs over the NIC.
    return Accelerator(
        id=d["id"],
        vendor=d["vendor"],
        name=d["name"],
        year=d["year"],
        peak_flops={k: tflops(v) for k, v in d["peak_tflops"].items() if v},
        hbm_bytes=float(d["hbm_gib"] or 0) * GiB,
        hbm_bw_bytes_per_s=gb_per_s(d["hbm_bw_gb_s"] or 0),
        scaleup_name=su.get("name") or "none",
        scaleup_domain=int(domain),
        scaleup_bw_bytes_per_s=gb_per_s(su.get("bw_gb_s_unidir") or 0),
        scaleout_bw_bytes_per_s=gbit_per_s(d["scaleout_gbit"] or 0),
        gpus_per_node=int(d["gpus_per_node"]),
        tdp_w=d["tdp_w"],
        price_usd=d["price_usd"],
        software_stack=stack,
        pytorch_device=soft.get("pytorch_device") or "unknown",
        collectives_library=soft.get("collectives") or "unknown",
        software_efficiency=_software_efficiency(f"software efficiency of {d['id']}", se),
        confidence=d["confidence"] or "unknown",
        sources=tuple(d["sources"]),
        notes=d.get("notes"),
        server=server,
        aliases=tuple(d.get("aliases") or ()),
    )


@cache
def accelerators() -> dict[str, Accelerator]:
    """Every accelerator in the shipped catalog, by id."""
    sw = load_data("software.yaml")
    out: dict[str, Accelerator] = {}
    for d in load_data("accelerators.yaml")["accelerators"]:
        acc = _accelerator(d, sw)
        if acc.id in out:
            raise CatalogError(f"accelerator id {acc.id!r} appears twice in the catalog")
        out[acc.id] = acc
    return out


def get_accelerator(accelerator_id: str) -> Accelerator:
    """Look one accelerator up by id, or by its id or catalog name written another way (case,
    spaces, dashes: "MI300X", "Gaudi 3", "H100 SXM5 80GB", "NVIDIA H100 SXM5 80GB"); an unknown one
    names the closest valid ids. Failing that, the name's core (`_Name`: "NVIDIA H100 80GB HBM3",
    "B200-SXM-180GB", "Huawei Ascend 910B"), a stated memory size choosing between chips that share
    it ("A100 40GB"). Nothing looser: "H200 NVL" is not an H200 SXM, nor "Ascend 910B4" the 910B."""
    accs = accelerators()
    if accelerator_id in accs:
        return accs[accelerator_id]
    acc = _spellings().get(squash(str(accelerator_id))) or _by_core(str(accelerator_id))
    if acc is not None:
        return accs[acc]
    core = _Name.of(str(accelerator_id)).core
    same = sorted(_cores().get(core, ())) or sorted(
        {i for c, ids in _cores().items() if min(len(c), len(core)) >= 4
         and (c.startswith(core) or core.startswith(c)) for i in ids}
    )  # fmt: skip  # "RTX PRO 6000 Blackwell" (the Server Edition's name goes on), "H100 PCIe"
    hint = (
        f" (closest: {', '.join(same)})"
        if same
        else difflib_closest(str(accelerator_id), list(accs))
    )
    raise CatalogError(f"unknown accelerator {accelerator_id!r}{hint}; see `wanka catalog list`")


@cache
def _spellings() -> dict[str, str]:
    """Squashed id, name and vendor + name of every accelerator -> its id (names shared by two
    accelerators are left out, so no spelling is ambiguous)."""
    return unambiguous(
        (squash(text), acc.id)
        for acc in accelerators().values()
        for text in (acc.id, acc.name, f"{acc.vendor} {acc.name}", *acc.aliases)
    )


#: words that name a maker, a product line or a package, not the chip ("NVIDIA H100 SXM5 80GB HBM3",
#: "AMD Instinct MI300X OAM", "Intel Gaudi 3 AI accelerator"); a PCIe or NVL card stays apart
#: (another product)
_NOT_THE_CHIP = frozenset(
    "nvidia amd intel habana huawei google aws amazon annapurna labs instinct tesla geforce cambricon "
    "kunlunxin baidu moore threads biren iluvatar corex hygon gpu ai accelerator tensor core oam "
    "card".split()
)
#: package words: SXM5, HBM3e, NVL72, 80GB, and the DGX/HGX systems, whose GPUs are SXM modules
#: ("DGX H100" is an H100 SXM, where a bare "H100" may be a PCIe or NVL card); MLPerf's system names
#: join the count to the memory ("H200-SXM-141GBx8")
_PACKAGE = re.compile(r"sxm\d*|hbm\d*e?|nvl\d+|dgx|hgx|(\d+)(?:gb|gib|g)(?:x\d+)?")
_COUNT = re.compile(r"\d+x")  # "8x H100"


@dataclass(frozen=True, slots=True)
class _Name:
    """An accelerator name taken apart: `core` without maker, package, memory and count words;
    `plain` without maker and count words only; `memory` the one size stated (GB), else None."""

    core: str
    plain: str
    memory: float | None

    @staticmethod
    def of(text: str) -> _Name:
        words = re.findall(r"[a-z0-9.]+", without_remarks(text.lower()))
        words = [w for w in words if w not in _NOT_THE_CHIP and not _COUNT.fullmatch(w)]
        sizes = [float(m.group(1)) for w in words if (m := _PACKAGE.fullmatch(w)) and m.group(1)]
        core = "".join(w for w in words if not _PACKAGE.fullmatch(w))
        return _Name(core, "".join(words), sizes[0] if len(sizes) == 1 else None)


@cache
def _cores() -> dict[str, frozenset[str]]:
    """`_Name.core` of every accelerator's id, name and aliases -> the ids that share it."""
    out: dict[str, set[str]] = {}
    for acc in accelerators().values():
        for text in (acc.id, acc.name, *acc.aliases):
            out.setdefault(_Name.of(text).core, set()).add(acc.id)
    return {k: frozenset(v) for k, v in out.items() if k}


def _by_core(text: str) -> str | None:
    """The one accelerator whose core name is `text`'s and whose memory (when `text` states one)
    is within 10% of it; None when there is none or more than one. A name with no package or memory
    word must be the chip's id, catalog name or an alias as it stands (maker aside): "H100 SXM" and
    "NVIDIA H100 80GB HBM3" are the H100 SXM, "H100" alone is not (PCIe and NVL cards share it)."""
    name, accs = _Name.of(text), accelerators()
    ids = [
        i for i in _cores().get(name.core, ())
        if name.memory is None or abs(accs[i].hbm_bytes / GiB / name.memory - 1) <= 0.10
    ]  # fmt: skip
    if len(ids) != 1:
        return None
    acc = accs[ids[0]]
    bare = name.plain == name.core
    written = {_Name.of(t).plain for t in (acc.id, acc.name, *acc.aliases)}
    return None if bare and name.plain not in written else acc.id
