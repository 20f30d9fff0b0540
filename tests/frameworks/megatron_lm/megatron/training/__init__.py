# Megatron-LM core_v0.16.1: arguments.py needs no package-level imports (upstream imports the training loop).
