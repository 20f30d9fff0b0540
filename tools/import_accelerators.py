"""Developer tool (not used at run time): turn the research accelerator table into the shipped catalog.

Usage: python tools/import_accelerators.py ../shared/research/accelerators.yaml tools/accelerators_extra.yaml \
           tools/accelerators_amend.yaml > src/wanka/catalogs/data/accelerators.yaml

Several tables may be given; later ones add chips (tools/accelerators_extra.yaml: older, workstation,
consumer and domestic chips that existing data centres hold) and amend earlier ones
(tools/accelerators_amend.yaml: figures the project sourced itself, such as int8 peaks; see its header).
The command above reproduces the shipped catalog byte for byte (tests/catalogs/test_import_tool.py
checks it where the research table is present).

Only chips with at least one dense matrix-throughput figure and a source are kept. Ids follow the validation files.
mxfp8 is given the fp8 rate and nvfp4 the fp4 rate on chips whose vendor documents hardware support
for those block-scaled formats (Blackwell; MI355X for mxfp8/mxfp4); elsewhere they are null.
"""

import sys
from pathlib import Path

import yaml

IDS = {
    "nvidia-v100-sxm2": "v100-sxm",
    "nvidia-a100-40-sxm": "a100-40gb",
    "nvidia-a100-80-sxm": "a100-80gb",
    "nvidia-a800-80-sxm": "a800-80gb",
    "nvidia-h100-sxm": "h100-sxm",
    "nvidia-h800-sxm": "h800",
    "nvidia-h20": "h20",
    "nvidia-h200-sxm": "h200",
    "nvidia-b200-hgx": "b200",
    "nvidia-gb200-nvl72": "gb200",
    "nvidia-b300-hgx": "b300",
    "nvidia-gb300-nvl72": "gb300",
    "amd-mi250x": "mi250x",
    "amd-mi300x": "mi300x",
    "amd-mi325x": "mi325x",
    "amd-mi355x": "mi355x",
    "intel-gaudi2": "gaudi2",
    "intel-gaudi3": "gaudi3",
    "google-tpu-v4": "tpu-v4",
    "google-tpu-v5e": "tpu-v5e",
    "google-tpu-v5p": "tpu-v5p",
    "google-tpu-v6e": "tpu-v6e",
    "google-tpu-v7": "tpu-v7",
    "aws-trainium1": "trainium1",
    "aws-trainium2": "trainium2",
    "aws-trainium3": "trainium3",
    "huawei-ascend-910a": "ascend-910a",
    "huawei-ascend-910b": "ascend-910b",
    "huawei-ascend-910b2": "ascend-910b2",
    "huawei-ascend-910c": "ascend-910c",
    "cambricon-mlu370-x8": "mlu370-x8",
    "kunlunxin-r200": "kunlunxin-r200",
    "mthreads-mtt-s4000": "mtt-s4000",
    "biren-br100": "br100",
    "enflame-t20": "enflame-t20",
    "iluvatar-bi-v100": "iluvatar-bi-v100",
    "nvidia-t4": "t4",
    "nvidia-a10": "a10",
    "nvidia-l4": "l4",
    "nvidia-l40s": "l40s",
    "nvidia-h200-nvl": "h200-nvl",
    "nvidia-h100-nvl": "h100-nvl",
    "nvidia-rtx-pro-6000-server": "rtx-pro-6000",
    "nvidia-rtx-a6000": "a6000",
    "nvidia-p100": "p100",
    "nvidia-rtx-2080": "rtx-2080",
    "nvidia-titan-rtx": "titan-rtx",
    "nvidia-rtx-3090": "rtx-3090",
    "nvidia-rtx-4090": "rtx-4090",
    "hygon-dcu-k100-ai": "hygon-k100-ai",
}
# Blackwell's block-scaled MXFP8/NVFP4 MMAs (sm_100 and sm_120: CUTLASS block-scaled GEMMs for both)
BLOCK_SCALED = {"b200", "gb200", "b300", "gb300", "rtx-pro-6000"}
# Accelerators per server/tray (node) where it differs from the scale-up domain: NVL72 trays hold 4 GPUs,
# TPU hosts 4 chips, Trainium2 Trn2 instances 16, CloudMatrix 384 servers 8 NPUs.
NODE = {
    "gb200": 4,
    "gb300": 4,
    "tpu-v4": 4,
    "tpu-v5e": 8,
    "tpu-v5p": 4,
    "tpu-v6e": 8,
    "tpu-v7": 4,
    "trainium1": 16,
    "trainium2": 16,
    "trainium3": 16,
    "ascend-910c": 8,
    "mi250x": 8,
    "h200-nvl": 8,
    "h100-nvl": 8,
}
STACK = {"CUDA": "cuda", "ROCm": "rocm"}
# Server form factor (the unit a rack holds): accelerators per server, rack units, maximum server power
# and the cooling it needs, each with its source. Chips not listed get a DERIVED server (confidence
# "derived"): gpus_per_node accelerators, 4U (the Atlas 800T A2 / 8-GPU PCIe chassis height), air cooled,
# and power = accelerators x TDP x HOST_FACTOR, the median over the sourced 8-GPU DGX servers below of
# maximum system power / (8 x accelerator TDP): DGX-1 1.46, DGX A100 2.03, DGX H100 1.82, DGX B200 1.79.
HOST_FACTOR = 1.805
_DGX = "https://docs.nvidia.com/dgx/"
_NVL72 = (
    "GB200/GB300 NVL72: 72 GPUs in one 48U liquid-cooled rack; power shelves 132 kW (introl.com and "
    "leviathansystems NVL72 articles, secondary); DeepLink-org/superpod-whitepaper "
    "src/01-architecture lists ~145 kW (https://github.com/DeepLink-org/superpod-whitepaper)"
)
SERVERS = {
    "v100-sxm": (
        8,
        3,
        3.5,
        "air",
        _DGX + "dgx1-user-guide/introduction-to-dgx1.html (DGX-1: 3U, 3,500 W max)",
    ),
    "a100-40gb": (
        8,
        6,
        6.5,
        "air",
        _DGX + "dgxa100-user-guide/introduction-to-dgxa100.html (6U, 6.5 kW max)",
    ),
    "a100-80gb": (
        8,
        6,
        6.5,
        "air",
        _DGX + "dgxa100-user-guide/introduction-to-dgxa100.html (6U, 6.5 kW max)",
    ),
    "h100-sxm": (
        8,
        8,
        10.2,
        "air",
        _DGX + "dgxh100-user-guide/introduction-to-dgxh100.html (8U, 10.2 kW max)",
    ),
    "h200": (
        8,
        8,
        10.2,
        "air",
        _DGX + "dgxh100-user-guide/introduction-to-dgxh100.html (DGX H200: 8U, 10.2 kW max)",
    ),
    "b200": (
        8,
        10,
        14.3,
        "air",
        _DGX + "dgxb200-user-guide/introduction-to-dgxb200.html (10U, 14.3 kW max)",
    ),
    "gb200": (72, 48, 132.0, "liquid", _NVL72),
    "gb300": (72, 48, 132.0, "liquid", _NVL72),
}


def server(new, a, gpn):
    """The server block of one chip: sourced where SERVERS has it, else derived (see HOST_FACTOR)."""
    if new in SERVERS:
        n, ru, kw, cooling, source = SERVERS[new]
        return {
            "accelerators": n,
            "rack_units": ru,
            "kw": kw,
            "cooling": cooling,
            "confidence": "vendor-spec" if source.startswith(_DGX) else "press",
            "source": source,
        }
    if not a.get("tdp_w"):
        return None
    return {
        "accelerators": gpn,
        "rack_units": 4,
        "kw": round(gpn * a["tdp_w"] * HOST_FACTOR / 1000, 2),
        "cooling": "air",
        "confidence": "derived",
        "source": f"derived: {gpn} x {a['tdp_w']} W TDP x host factor {HOST_FACTOR} "
        "(tools/import_accelerators.py HOST_FACTOR)",
    }


def read_tables(paths):
    """The chips of all tables in order, with the later tables' `amend` patches applied and their
    chips placed `after` the one they name (see tools/accelerators_amend.yaml)."""
    chips, amend = [], {}
    for path in paths:
        doc = yaml.safe_load(Path(path).read_text())
        amend.update(doc.get("amend") or {})
        for a in doc.get("accelerators") or []:
            a = dict(a)
            after = a.pop("after", None)
            ids = [c["id"] for c in chips]
            chips.insert(ids.index(after) + 1 if after in ids else len(chips), a)
    unknown = set(amend) - {c["id"] for c in chips}
    if unknown:
        sys.exit(f"amend names chips no table has: {sorted(unknown)}")
    return [patched(c, amend.get(c["id"], {})) for c in chips]


def patched(a, patch):
    """One research-table chip with a patch applied: mappings merged, sources_add appended."""
    a = dict(a)
    for key, value in patch.items():
        if key == "sources_add":
            a["sources"] = list(a.get("sources") or []) + list(value)
        elif isinstance(value, dict):
            a[key] = {**(a.get(key) or {}), **value}
        else:
            a[key] = value
    return a


def convert(a):
    """One research-table chip as a catalog entry, or None when it is not shipped."""
    new = IDS.get(a["id"])
    t = a.get("tflops") or {}
    if new is None or not any(t.get(k) for k in ("bf16", "fp16", "fp8")) or not a.get("sources"):
        return None  # no compute figure, or figures without any source: not shipped
    peak = {k: t.get(k) for k in ("fp32", "tf32", "bf16", "fp16", "fp8")}
    peak["mxfp8"] = t.get("fp8") if new in BLOCK_SCALED or new == "mi355x" else None
    peak["nvfp4"] = t.get("fp4") if new in BLOCK_SCALED else None
    peak["mxfp4"] = t.get("fp4") if new == "mi355x" else None
    if t.get("int8"):
        peak["int8"] = t["int8"]  # TOPS; not a training precision, listed for completeness
    su = a.get("scaleup") or {}
    notes = "; ".join(
        str(a[k])
        for k in ("notes_compute", "note", "scaleout_note", "tdp_note", "price_note")
        if a.get(k)
    )
    domain = su.get("domain")
    gpn = NODE.get(new, min(domain or 8, 8) if (domain or 8) >= 4 else 8)
    entry = {"id": new, "vendor": a["vendor"], "name": a["name"]}
    if a.get("aliases"):
        entry["aliases"] = list(a["aliases"])
    return entry | {
        "year": a.get("year"),
        "peak_tflops": peak,
        "hbm_gib": a.get("hbm_gib"),
        "hbm_bw_gb_s": a.get("hbm_bw_gbs"),
        "scaleup": {
            "name": su.get("name"),
            "domain": domain,
            "bw_gb_s_unidir": su.get("bw_gbs_unidir"),
        },
        "scaleout_gbit": a.get("scaleout_nic_gbit"),
        "gpus_per_node": gpn,
        "tdp_w": a.get("tdp_w"),
        "price_usd": a.get("price_usd"),
        "software": {
            "stack": a.get("stack"),
            "pytorch_device": a.get("pytorch_device"),
            "collectives": a.get("collectives"),
        },
        "confidence": a.get("confidence"),
        "sources": a.get("sources") or [],
        "notes": notes or None,
        "server": server(new, a, gpn),
    }


def main(paths):
    out = [e for e in map(convert, read_tables(paths)) if e is not None]
    print(
        "# Accelerator catalog. Generated by tools/import_accelerators.py from the project's research table;"
    )
    print(
        "# every figure's sources are listed per chip. Units: peak_tflops dense (no sparsity) TFLOP/s,"
    )
    print(
        "# hbm_gib GiB, hbm_bw_gb_s GB/s, scaleup.bw_gb_s_unidir GB/s per accelerator per direction,"
    )
    print(
        "# scaleout_gbit Gb/s NIC bandwidth per accelerator, tdp_w W, price_usd approximate US$ (press)."
    )
    print(yaml.safe_dump({"accelerators": out}, sort_keys=False, width=120, allow_unicode=True))


if __name__ == "__main__":
    main(sys.argv[1:])
