"""The shipped accelerator catalog: loads, sane units, sources, strict keys."""

from __future__ import annotations

import copy

import pytest

from wanka import catalogs
from wanka.catalogs import accelerators, get_accelerator, load_data
from wanka.errors import CatalogError
from wanka.units import GiB

VALIDATION_IDS = [
    "h100-sxm",
    "a100-80gb",
    "a100-40gb",
    "gb200",
    "gb300",
    "b200",
    "b300",
    "h200",
    "h800",
    "mi300x",
    "ascend-910b",
    "ascend-910c",
]


def test_every_accelerator_loads_with_a_peak_and_a_source() -> None:
    """Each chip has at least one peak in a sane range and a source URL."""
    accs = accelerators()
    assert len(accs) >= 20
    for acc in accs.values():
        assert acc.peak_flops and all(1e12 <= v <= 1e17 for v in acc.peak_flops.values()), acc.id
        assert acc.gpus_per_node >= 1 and acc.scaleup_domain >= 1, acc.id
    unsourced = {a.id for a in accs.values() if not any(s.startswith("http") for s in a.sources)}
    assert not unsourced, sorted(unsourced)


def test_sane_units_h100() -> None:
    """H100 SXM: 989.4 TFLOP/s bf16 dense, 80 GiB, 3.35 TB/s, 450 GB/s NVLink per direction."""
    h100 = get_accelerator("h100-sxm")
    assert h100.peak("bf16") == pytest.approx(989.4e12)
    assert h100.hbm_bytes == 80 * GiB
    assert h100.hbm_bw_bytes_per_s == pytest.approx(3.35e12)
    assert h100.scaleup_bw_bytes_per_s == pytest.approx(450e9)
    assert h100.scaleout_bw_bytes_per_s == pytest.approx(400e9 / 8)


@pytest.mark.parametrize("acc_id", VALIDATION_IDS)
def test_validation_ids_present(acc_id: str) -> None:
    """Every accelerator the validation runs name is in the catalog, with memory and bandwidth."""
    acc = get_accelerator(acc_id)
    assert acc.hbm_bytes > 16 * GiB and acc.hbm_bw_bytes_per_s > 1e12


def test_unknown_id_names_closest() -> None:
    """An unknown id is a CatalogError suggesting the nearest ids."""
    with pytest.raises(CatalogError, match="closest: .*h100-sxm"):
        get_accelerator("h100-pcie")


@pytest.mark.parametrize(
    ("written", "acc_id"),
    [("MI300X", "mi300x"), ("Gaudi 3", "gaudi3"), ("H100-SXM", "h100-sxm"),
     ("H100 SXM5 80GB", "h100-sxm"), ("NVIDIA H100 SXM5 80GB", "h100-sxm"), ("A100 80GB", "a100-80gb")],
)  # fmt: skip
def test_an_id_or_catalog_name_written_another_way_is_found(written: str, acc_id: str) -> None:
    """Published tables write "MI300X" or the vendor's product name: case, spaces and dashes aside,
    the id or the catalog's name (with or without the vendor) finds the accelerator."""
    assert get_accelerator(written).id == acc_id


@pytest.mark.parametrize(
    ("written", "acc_id"),
    [("NVIDIA H100 80GB HBM3", "h100-sxm"), ("h100-sxm5", "h100-sxm"), ("B200-SXM-180GB", "b200"),
     ("NVIDIA H200 141GB", "h200"), ("GB200 NVL72", "gb200"), ("Huawei Ascend 910B", "ascend-910b"),
     ("NVIDIA H20", "h20"), ("A100-SXM4-40GB", "a100-40gb"), ("Intel Gaudi2", "gaudi2"),
     ("8x MI325X", "mi325x"), ("Tesla V100-SXM2-32GB", "v100-sxm"), ("Ascend 910B3", "ascend-910b"),
     ("NVIDIA DGX H100", "h100-sxm"), ("HGX H200", "h200"), ("Intel Gaudi 3 AI accelerator", "gaudi3"),
     ("Trillium", "tpu-v6e"), ("Ironwood", "tpu-v7"), ("TPU7x", "tpu-v7"),
     ("RTX 6000 Pro Blackwell Server Edition", "rtx-pro-6000")],
)  # fmt: skip
def test_a_chip_named_with_maker_package_and_memory_words_is_found(
    written: str, acc_id: str
) -> None:
    """nvidia-smi's and MLPerf's system names: maker, SXM, HBM, NVL72 and a count are not the chip;
    a stated memory size picks between chips that share the name (A100 40GB / 80GB); a DGX or HGX
    system holds SXM modules; product names (Trillium, Ironwood) are aliases."""
    assert get_accelerator(written).id == acc_id


@pytest.mark.parametrize(
    ("written", "closest"),
    [("A100", "a100-40gb, a100-80gb"), ("H100 94GB", "h100-sxm"), ("Ascend 910B4", "ascend-910b"),
     ("H100 PCIe", ""), ("NVIDIA H100", "h100-sxm")],
)  # fmt: skip
def test_a_name_that_fits_no_one_chip_is_refused(written: str, closest: str) -> None:
    """Two chips share "A100"; 94 GB is an H100 NVL, not the 80 GB SXM; a 910B4 (32 GB, slower) is
    not the catalog's 910B, whose figures are a 910B3's (its alias)."""
    with pytest.raises(CatalogError, match=f"closest: .*{closest}"):
        get_accelerator(written)


@pytest.mark.parametrize(
    ("written", "acc_id"),
    [("H200 NVL", "h200-nvl"), ("H200-NVL-141GBx8", "h200-nvl"), ("NVIDIA H100 NVL", "h100-nvl"),
     ("H200", "h200"), ("NVIDIA H200-SXM-141GB", "h200")],
)  # fmt: skip
def test_a_different_product_is_not_taken_for_a_near_name(written: str, acc_id: str) -> None:
    """H200 NVL (PCIe card, 600 W, 4-way NVLink bridge) is its own catalog entry, not the H200 SXM
    (700 W, NVSwitch), and MLPerf's system name for it finds it."""
    acc = get_accelerator(written)
    assert acc.id == acc_id
    if acc_id.endswith("-nvl"):
        assert (
            acc.scaleup_domain < 8
            and acc.peak_flops["bf16"] < get_accelerator("h200").peak_flops["bf16"]
        )


def test_loader_rejects_unknown_keys() -> None:
    """The private loader refuses a record with an extra key, and one with an extra peak format."""
    sw = load_data("software.yaml")
    record = copy.deepcopy(load_data("accelerators.yaml")["accelerators"][0])
    catalogs._accelerator(record, sw)  # the unmodified record loads
    with pytest.raises(CatalogError, match="flops_tera"):
        catalogs._accelerator({**record, "flops_tera": 1}, sw)
    with pytest.raises(CatalogError, match="int3"):
        catalogs._accelerator({**record, "peak_tflops": {**record["peak_tflops"], "int3": 5}}, sw)
    missing = {k: v for k, v in record.items() if k != "sources"}
    with pytest.raises(CatalogError, match="sources"):
        catalogs._accelerator(missing, sw)
