"""Training data: a registry of dataset versions (manifests, counts, lineage, replicas) and a mover
that copies them between local paths and S3-compatible stores with per-file verification.

Modules: `manifest` (content manifests), `stores` (local and S3 stores), `mover` (copy and verify),
`stats` (sample and token counts), `registry` (the database), `ops` (what `wanka data` and the
platform's staging call).
"""
