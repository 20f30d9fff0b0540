#!/usr/bin/env python3
"""Build validation/ascend_mindspeed_runs.yaml from a MindSpeed-LLM (ModelLink) checkout.

    python tools/collect_mindspeed_runs.py REPO_GIT_DIR > validation/ascend_mindspeed_runs.yaml

Reads, at one fixed commit, the README's measured pre-training throughput table ("实测性能", tokens/s per
NPU on Atlas 900 A2 PODc, MC2 on) and, for each row, the example pre-training script it names: model
shape, TP/PP/CP/EP, micro/global batch, recompute, precision and cluster size. Nothing is tuned here: the
rows are the published numbers and the published scripts' settings.
"""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

COMMIT = "1ea39226824d8826045224f05621cd73560492d6"  # 2024-10-24, last README with the table
README_URL = f"https://github.com/Ascend/MindSpeed-LLM/blob/{COMMIT}/README.md"
SCRIPT_URL = f"https://github.com/Ascend/MindSpeed-LLM/blob/{COMMIT}/"

# README (model, size, seq) -> the mcore example script of that row
ROWS = {
    ("Baichuan2", "13B", "4K"): "examples/mcore/baichuan2/pretrain_baichuan2_13b_ptd.sh",
    ("ChatGLM3", "6B", "8K"): "examples/mcore/chatglm3/pretrain_chatglm3_6B_8K.sh",
    ("ChatGLM3", "6B", "32K"): "examples/mcore/chatglm3/pretrain_chatglm3_6B_32K.sh",
    ("ChatGLM3", "6B", "64K"): "examples/mcore/chatglm3/pretrain_chatglm3_6B_64K.sh",
    ("GLM4", "9B", "8K"): "examples/mcore/glm4/pretrain_glm4_9b_8k_ptd.sh",
    ("GLM4", "9B", "32K"): "examples/mcore/glm4/pretrain_glm4_9b_32k_ptd.sh",
    ("CodeLlama", "34B", "4K"): "examples/mcore/codellama/pretrain_codellama_34b_ptd_16p.sh",
    ("InternLM2", "20B", "4K"): "examples/mcore/internlm2/pretrain_internlm2_20b_4k_ptd.sh",
    ("LLaMA2", "7B", "4K"): "examples/mcore/llama2/pretrain_llama2_7b_ptd.sh",
    ("LLaMA2", "13B", "4K"): "examples/mcore/llama2/pretrain_llama2_13b_ptd.sh",
    ("LLaMA2", "34B", "4K"): "examples/mcore/llama2/pretrain_llama2_34B_ptd_16p.sh",
    ("LLaMA2", "70B", "4K"): "examples/mcore/llama2/pretrain_llama2_70b_ptd.sh",
    ("LLaMA3", "8B", "8K"): "examples/mcore/llama3/pretrain_llama3_8b_ptd.sh",
    ("LLaMA3", "70B", "8K"): "examples/mcore/llama3/pretrain_llama3_70b_ptd.sh",
    ("LLaMA3.1", "8B", "8K"): "examples/mcore/llama31/pretrain_llama31_8b_8k_ptd.sh",
    ("LLaMA3.1", "8B", "128K"): "examples/mcore/llama31/pretrain_llama31_8b_128k_ptd.sh",
    ("LLaMA3.1", "70B", "8K"): "examples/mcore/llama31/pretrain_llama31_70b_8k_ptd.sh",
    ("LLaMA3.2", "1B", "8K"): "examples/mcore/llama32/pretrain_llama32_1b_8k_ptd.sh",
    ("LLaMA3.2", "3B", "8K"): "examples/mcore/llama32/pretrain_llama32_3b_8k_ptd.sh",
    ("Qwen1.5", "0.5B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_0point5b_ptd.sh",
    ("Qwen1.5", "1.8B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_1point8b_ptd.sh",
    ("Qwen1.5", "4B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_4b_ptd.sh",
    ("Qwen1.5", "7B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_7b_ptd.sh",
    ("Qwen1.5", "14B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_14b_ptd.sh",
    ("Qwen1.5", "32B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_32b_ptd.sh",
    ("Qwen1.5", "72B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_72b_ptd.sh",
    ("Qwen1.5", "110B", "8K"): "examples/mcore/qwen15/pretrain_qwen15_110b_ptd.sh",
    ("Qwen2", "0.5B", "4K"): "examples/mcore/qwen2/pretrain_qwen2_0point5b_4K_ptd.sh",
    ("Qwen2", "0.5B", "32K"): "examples/mcore/qwen2/pretrain_qwen2_0point5b_32K_ptd.sh",
    ("Qwen2", "1.5B", "4K"): "examples/mcore/qwen2/pretrain_qwen2_1point5b_4K_ptd.sh",
    ("Qwen2", "1.5B", "32K"): "examples/mcore/qwen2/pretrain_qwen2_1point5b_32K_ptd.sh",
    ("Qwen2", "7B", "4K"): "examples/mcore/qwen2/pretrain_qwen2_7b_4K_ptd.sh",
    ("Qwen2", "7B", "32K"): "examples/mcore/qwen2/pretrain_qwen2_7b_32K_ptd.sh",
    ("Qwen2", "72B", "4K"): "examples/mcore/qwen2/pretrain_qwen2_72b_4K_ptd.sh",
    ("Qwen2.5", "3B", "32K"): "examples/mcore/qwen25/pretrain_qwen25_3b_32K_ptd.sh",
    ("Qwen2.5", "7B", "32K"): "examples/mcore/qwen25/pretrain_qwen25_7b_32K_ptd.sh",
    ("Qwen2.5", "14B", "32K"): "examples/mcore/qwen25/pretrain_qwen25_14b_32K_ptd.sh",
    ("Yi", "34B", "4K"): "examples/mcore/yi/pretrain_yi_34b_ptd_16p.sh",
    ("Mistral", "7B", "32K"): "examples/mcore/mistral/pretrain_mistral_7b_ptd.sh",
    ("Gemma", "2B", "8K"): "examples/mcore/gemma/pretrain_gemma_2b_ptd.sh",
    ("Gemma", "7B", "8K"): "examples/mcore/gemma/pretrain_gemma_7b_ptd.sh",
    ("Gemma2", "9B", "8K"): "examples/mcore/gemma2/pretrain_gemma2_9b_ptd.sh",
    ("Gemma2", "27B", "8K"): "examples/mcore/gemma2/pretrain_gemma2_27b_ptd.sh",
    ("Mixtral", "8x7B", "32K"): "examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh",
}


def git_show(repo: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, "show", f"{COMMIT}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def readme_rows(repo: str) -> list[dict]:
    t = git_show(repo, "README.md")
    t = t[t.index("实测性能") :]
    t = t[: t.index("</table>")]
    out, model = [], None
    for r in re.findall(r"<tr>(.*?)</tr>", t, re.DOTALL):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.DOTALL)
        ]
        if not cells or cells[0] == "模型":
            continue
        if (
            not re.match(r"^[\d.x]+[BM]?\d*$", cells[0].replace("A14B", ""))
            and not cells[0][0].isdigit()
        ):
            model, cells = cells[0], cells[1:]
        # rows may hold several entries of 9 cells: size, seq, impl, cluster, perf, perf2, ref, who, cert
        i = 0
        while i + 8 < len(cells) + 1 and i < len(cells):
            size, seq = cells[i], cells[i + 1]
            if not re.match(r"^\d", size):  # a row continuing the previous size: seq first
                size, seq, off = out[-1]["size"] if out else "", cells[i], -1
            else:
                off = 0
            c = cells[i + 1 + off : i + 9 + off]
            out.append(
                {
                    "model": model,
                    "size": size,
                    "seq": seq,
                    "impl": c[1],
                    "cluster": c[2],
                    "perf": c[3],
                }
            )
            i += 9 + off
    return out


def arg(text: str, name: str, default=None):
    m = re.search(rf"--{name}\s+(\S+)", text)
    return m.group(1) if m else default


def flag(text: str, name: str) -> bool:
    return re.search(rf"--{name}(\s|$|\\)", text) is not None


def var(text: str, name: str, default=None):
    m = re.search(rf"^\s*{name}=(\S+)", text, re.MULTILINE)
    return m.group(1).strip("\"'") if m else default


def resolve(text: str, v):
    if v is None:
        return None
    m = re.fullmatch(r"\$\{?(\w+)\}?", v)
    return var(text, m.group(1)) if m else v


# Tokenizer vocabulary of each family where the script names a tokenizer instead of a padded size
# (the models' Hugging Face config.json `vocab_size`).
VOCAB = {
    "Baichuan2": 125696,
    "ChatGLM3": 65024,
    "GLM4": 151552,
    "CodeLlama": 32016,
    "InternLM2": 92544,
    "LLaMA2": 32000,
    "LLaMA3": 128256,
    "LLaMA3.1": 128256,
    "LLaMA3.2": 128256,
    "Yi": 64000,
    "Mistral": 32000,
    "Mixtral": 32000,
}


def run_spec(row: dict, path: str, text: str, n: int) -> dict:
    def i(name, default=None):
        v = resolve(text, arg(text, name))
        return int(v) if v is not None else default

    layers, hidden, heads = i("num-layers"), i("hidden-size"), i("num-attention-heads")
    kv = i("num-query-groups") if flag(text, "group-query-attention") else heads
    moe = None
    if i("num-experts"):
        moe = {"experts": i("num-experts"), "top_k": i("moe-router-topk", 2), "expert_ffn": None}
    recompute = None
    gran = arg(text, "recompute-granularity")
    if gran == "full" or flag(text, "recompute-activations") and gran is None:
        recompute = "full" if gran == "full" else "selective"
    elif gran == "selective":
        recompute = "selective"
    precision = "bf16" if flag(text, "bf16") else ("fp16" if flag(text, "fp16") else None)
    vocab = i("padded-vocab-size") or i("vocab-size") or VOCAB.get(row["model"])
    window = i("sliding-window") or i("interleave-sliding-window")
    activation = None
    if flag(text, "swiglu"):
        activation = "swiglu"
    elif flag(text, "gelu-tanh") and row["model"].startswith("Gemma"):
        activation = "geglu"  # Gemma's MLP is a gated GELU (GeGLU)
    return {
        "id": None,
        "framework": "mindspeed",
        "model": {
            "name": f"{row['model']} {row['size']}",
            "type": "moe" if moe else "dense",
            "layers": layers,
            "hidden": hidden,
            "heads": heads,
            "kv_heads": kv,
            "ffn_hidden": i("ffn-hidden-size"),
            "vocab": vocab,
            "seq_len": i("seq-length"),
            "head_dim": i("kv-channels"),
            "sliding_window": window,
            "attention_layer_pattern": "SF" if i("interleave-sliding-window") else None,
            "activation": activation,
            # Megatron ties the embedding and output weights unless told otherwise
            "tied_embeddings": not flag(text, "untie-embeddings-and-output-weights"),
            "moe": moe,
        },
        "hardware": {
            "accelerator": "ascend-910b2",
            "count": n,
            "gpus_per_node": 8,
            "system": "Atlas 900 A2 PODc",
        },
        "parallelism": {
            "tp": i("tensor-model-parallel-size"),
            "pp": i("pipeline-model-parallel-size"),
            "vpp": None,
            "cp": i("context-parallel-size"),
            "ep": i("expert-model-parallel-size"),
            "sequence_parallel": flag(text, "sequence-parallel"),
            "distributed_optimizer": flag(text, "use-distributed-optimizer"),
            "recompute": recompute,
            "micro_batch_size": i("micro-batch-size"),
            "global_batch_size": i("global-batch-size"),
        },
        "precision": precision,
        "measured": {"tokens_per_s_per_gpu": float(row["perf"])},
        "source": f"{README_URL} (throughput table, tokens/s/p); layout: {SCRIPT_URL}{path}",
    }


def main() -> None:
    repo = sys.argv[1]
    runs, k = [], 0
    for row in readme_rows(repo):
        key = (row["model"], row["size"], row["seq"])
        if key not in ROWS or not re.fullmatch(r"\d+(\.\d+)?", row["perf"]):
            continue
        nodes, per = (int(x) for x in row["cluster"].split("x"))
        path = ROWS[key]
        spec = run_spec(row, path, git_show(repo, path), nodes * per)
        k += 1
        spec["id"] = f"mindspeed-{k:03d}"
        runs.append(spec)
    header = (
        "# Published Ascend 910B pre-training throughput (MindSpeed-LLM README, Atlas 900 A2 PODc, MC2 on)\n"
        "# with the layouts of the example scripts at the same commit; generated by\n"
        "# tools/collect_mindspeed_runs.py (see its docstring). Null = not stated by the script.\n"
    )
    sys.stdout.write(header + yaml.safe_dump(runs, sort_keys=False, allow_unicode=True))


if __name__ == "__main__":
    main()
