"""``b2b_classifier`` nodes: the offline model shipped in the package; no network, no key.

A row whose one-liner and description hold nothing the model knows is skipped
with the reason, never stored as an answer: p=0.5 is not an answer.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from lead_pipeline.classify.model import classify
from lead_pipeline.engine.estimates import offline
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeOutcome, node_type


class B2BClassifierConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ()  # renders no templates

    fields: list[str] = Field(
        default_factory=lambda: ["name", "website", "one_liner", "description"],
        description="row columns the model reads, under the canonical lead field names",
    )

    def input_columns(self) -> list[tuple[str, str]]:
        return [(f"fields[{i}]", column) for i, column in enumerate(self.fields)]


@node_type(
    "b2b_classifier",
    B2BClassifierConfig,
    kinds=("python",),
    inline=True,
    estimate=offline,
    reads_row=False,
)
async def run_b2b_classifier(call: NodeCall[B2BClassifierConfig]) -> NodeOutcome:
    """Classify from text columns: microseconds per row, so it runs inline in the loop."""
    prediction = classify({f: call.values.get(f) for f in call.config.fields})
    if not prediction.evidence:
        return NodeOutcome(outputs={}, skipped=True, note=f"no evidence: {prediction.reason}")
    return NodeOutcome(
        outputs={
            "is_b2b": prediction.is_b2b,
            "b2b_confidence": round(prediction.confidence, 4),
            "b2b_reason": prediction.reason,
        },
        provider="offline_model",
    )
