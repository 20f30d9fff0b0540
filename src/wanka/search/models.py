"""Loading a model for a search from the command line or a centre file: preset id, HF config, or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wanka.errors import ConfigError

__all__ = ["load_model"]


def load_model(ref: str, seq_len: int | None = None) -> Any:
    """A model from a preset id, an HF config.json, or a YAML/JSON file holding a run-spec `model` block."""
    from wanka.spec import model_from_mapping, read_spec_file

    p = Path(ref)
    if p.suffix.lower() in (".yaml", ".yml", ".json") or p.exists():
        data = read_spec_file(p)
        if isinstance(data, dict) and (
            "architectures" in data or "hidden_size" in data or "model_type" in data
        ):
            from wanka.workload.hf import from_hf_config

            model = from_hf_config(p)
        else:
            if isinstance(data, dict) and isinstance(data.get("model"), dict):
                data = data["model"]
            if not isinstance(data, dict):
                raise ConfigError(
                    f"{p}: expected a model mapping (layers, hidden, heads, seq_len, ...)"
                )
            model = model_from_mapping(data, base_dir=p.parent)
    else:
        from wanka.workload.presets import get_model

        model = get_model(ref)
    if seq_len is not None:
        from dataclasses import replace

        if seq_len <= 0:
            raise ConfigError(f"--seq-len must be positive, got {seq_len}")
        model = replace(model, seq_len=seq_len)
    return model
