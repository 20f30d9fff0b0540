"""Workloads: model architectures (presets, Hugging Face configs) and their exact parameter/FLOP counts."""
