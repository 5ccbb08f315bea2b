"""The offline B2B classifier: the first, free stage of the ``b2b_only`` workflow.

Import from here; ``train`` (which needs scikit-learn) is never imported by inference.
"""

from lead_pipeline.classify.model import (
    DEFAULT_MODEL_PATH,
    B2BModel,
    B2BPrediction,
    classify,
    classify_many,
    load_model,
)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "B2BModel",
    "B2BPrediction",
    "classify",
    "classify_many",
    "load_model",
]
