"""``expression`` nodes: columns computed from other columns, in the safe expression language."""

from __future__ import annotations

from typing import Any, ClassVar

from lead_pipeline.engine.estimates import offline
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeOutcome, node_type
from lead_pipeline.workflows.expressions import Expression, compile_expression


class ExpressionConfig(NodeConfig):
    expression_fields: ClassVar[tuple[str, ...]] = ("values",)

    values: dict[str, str]

    def compiled(self) -> dict[str, Expression]:
        return {column: compile_expression(text) for column, text in self.values.items()}


@node_type(
    "expression",
    ExpressionConfig,
    kinds=("python",),
    inline=True,
    estimate=offline,
    reads_row=False,
)
async def run_expression(call: NodeCall[ExpressionConfig]) -> NodeOutcome:
    """Compute columns from the row's current values; later expressions see earlier ones."""
    values: dict[str, Any] = dict(call.values)
    outputs: dict[str, Any] = {}
    for column, expression in call.config.compiled().items():
        outputs[column] = values[column] = expression.evaluate(values, call.params)
    return NodeOutcome(outputs=outputs)
