"""Serving: inference step model, KV-cache capacity, request-level simulation, capacity planning.

Public API: `load_serve_specs`, `parse_serve_spec`, `predict_serve`, `predict_specs`, `plan_serving`,
`validate_serving`; the numeric core is `Engine` (array in / array out over `Layouts`).
See docs/serve.md for the formulas, sources and validation.
"""

from __future__ import annotations

from wanka.serve.engine import Engine, Steady
from wanka.serve.model import Layouts, model_shape
from wanka.serve.params import EngineDefaults, ServeCalibration, default_serve_calibration
from wanka.serve.predict import predict_serve, predict_specs
from wanka.serve.spec import ServeError, ServeSpec, load_serve_specs, parse_serve_spec

__all__ = [
    "Engine",
    "EngineDefaults",
    "Layouts",
    "ServeCalibration",
    "ServeError",
    "ServeSpec",
    "Steady",
    "default_serve_calibration",
    "load_serve_specs",
    "model_shape",
    "parse_serve_spec",
    "predict_serve",
    "predict_specs",
]
