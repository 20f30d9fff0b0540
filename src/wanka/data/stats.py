"""Sample and token counts of a dataset version, read in streaming fashion.

- jsonl: one sample per non-empty line; parquet: rows from the file footer; Megatron .idx: the
  sequence count from its header and tokens from the .bin size (exact); webdataset tar: one sample per
  distinct member key.
- Tokens are counted with a Hugging Face `tokenizers` file when one is given (the `text` field of
  each record). Otherwise they are ESTIMATED as text bytes / 4, the rule of thumb that one token is
  about four characters of English text (OpenAI, "What are tokens and how to count them?",
  help.openai.com); the text share of a jsonl file's bytes is measured on its first lines.
"""

from __future__ import annotations

import json
import struct
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanka.data.manifest import Manifest
from wanka.errors import ConfigError

__all__ = ["BYTES_PER_TOKEN", "Counts", "count_version"]

BYTES_PER_TOKEN = 4.0  # estimate only: ~4 characters of English text per token (see module doc)
_SAMPLE_LINES = 2000  # lines read to measure the text share of a jsonl file's bytes
_BATCH = 1024  # texts per tokenizer call
_MMIDX_MAGIC = b"MMIDIDX\x00\x00"  # Megatron-LM megatron/core/datasets/indexed_dataset.py
_MMIDX_DTYPE_BYTES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 8,
    7: 4,
    8: 2,
}  # its DType codes (6 float64, 7 float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    samples: int | None
    tokens: int | None
    tokens_estimated: bool


def _text_of(rec: Any, field: str) -> str:
    if isinstance(rec, dict):
        v = rec.get(field)
        if isinstance(v, str):
            return v
        return " ".join(x for x in rec.values() if isinstance(x, str))
    return rec if isinstance(rec, str) else ""


def _jsonl_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield line


def _jsonl(path: Path, field: str, tok: Any) -> tuple[int, float]:
    samples, tokens, text_bytes, line_bytes = 0, 0.0, 0, 0
    batch: list[str] = []
    for line in _jsonl_lines(path):
        samples += 1
        if tok is None and samples > _SAMPLE_LINES:
            continue  # only counting lines now
        try:
            text = _text_of(json.loads(line), field)
        except ValueError:
            raise ConfigError(f"{path.name} line {samples} is not JSON") from None
        if tok is None:
            text_bytes += len(text.encode())
            line_bytes += len(line)
            continue
        batch.append(text)
        if len(batch) >= _BATCH:
            tokens += sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
            batch.clear()
    if tok is not None:
        if batch:
            tokens += sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
        return samples, tokens
    share = text_bytes / line_bytes if line_bytes else 0.0
    return samples, path.stat().st_size * share / BYTES_PER_TOKEN


def _parquet(path: Path, field: str, tok: Any) -> tuple[int, float]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    names = pf.schema_arrow.names
    if field not in names:
        return rows, 0.0
    if tok is None:  # uncompressed bytes of the text column, from the footer
        col = names.index(field)
        md = pf.metadata
        size = sum(
            md.row_group(g).column(col).total_uncompressed_size for g in range(md.num_row_groups)
        )
        return rows, size / BYTES_PER_TOKEN
    tokens = 0
    for b in pf.iter_batches(batch_size=_BATCH, columns=[field]):
        texts = [t for t in b.column(0).to_pylist() if isinstance(t, str)]
        tokens += sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
    return rows, float(tokens)


def _megatron(idx: Path) -> tuple[int, int] | None:
    """(sequences, tokens) of a Megatron indexed dataset from its .idx header and .bin size."""
    with open(idx, "rb") as f:
        head = f.read(len(_MMIDX_MAGIC) + 8 + 1 + 8)
    if not head.startswith(_MMIDX_MAGIC):
        return None
    off = len(_MMIDX_MAGIC) + 8  # magic, then a uint64 version
    dtype, count = struct.unpack_from("<BQ", head, off)
    size = _MMIDX_DTYPE_BYTES.get(dtype)
    binf = idx.with_suffix(".bin")
    if size is None or not binf.is_file():
        return None
    return count, binf.stat().st_size // size


def _webdataset(path: Path) -> int:
    keys = set()
    with tarfile.open(path, "r|*") as t:
        for m in t:
            if m.isfile():
                base = m.name.rsplit("/", 1)[-1]
                keys.add(m.name[: len(m.name) - len(base)] + base.split(".", 1)[0])
    return len(keys)


def count_version(
    root: Path | str, manifest: Manifest, *, tokenizer: Path | None = None, field: str = "text"
) -> Counts:
    """Samples and tokens over the files of `manifest` under `root` (None where unknowable)."""
    root = Path(root)
    if root.is_file():
        root = root.parent
    tok = None
    if tokenizer is not None:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(tokenizer))
        except Exception as err:  # noqa: BLE001 - tokenizers raises plain Exceptions for a bad file
            raise ConfigError(f"cannot read tokenizer {tokenizer}: {err}") from None
    samples, tokens, exact, known = 0, 0.0, True, False
    for e in manifest.entries:
        p, name = root / e.path, e.path.lower()
        if name.endswith(".jsonl"):
            n, t = _jsonl(p, field, tok)
            exact &= tok is not None
        elif name.endswith(".parquet"):
            n, t = _parquet(p, field, tok)
            exact &= tok is not None
        elif name.endswith(".idx") and (m := _megatron(p)) is not None:
            n, t = m  # token ids already: exact whatever the tokenizer
        elif name.endswith(".tar"):
            n, t = _webdataset(p), 0.0
        else:
            continue
        samples, tokens, known = samples + n, tokens + t, True
    if not known:
        return Counts(samples=None, tokens=None, tokens_estimated=True)
    return Counts(samples=samples, tokens=round(tokens), tokens_estimated=not exact)
