"""``python`` nodes: a registered function computes the node's columns."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from lead_pipeline.engine.estimates import offline
from lead_pipeline.engine.functions import call_function, get_function
from lead_pipeline.engine.plugins import PluginError
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type


class PythonConfig(NodeConfig):
    """``function`` is a registered row function's name (see ``engine.functions``);
    ``args`` are passed to it as keyword arguments."""

    template_fields: ClassVar[tuple[str, ...] | None] = ()  # renders no templates

    function: str
    args: dict[str, Any] = Field(default_factory=dict)
    reads: list[str] | None = Field(
        default=None,
        description="the columns the function reads; without it, it sees (and depends on) "
        "the whole row",
    )

    def input_columns(self) -> list[tuple[str, str]]:
        return [("reads", column) for column in self.reads or ()]

    def reads_whole_row(self) -> bool:
        return self.reads is None

    @field_validator("function")
    @classmethod
    def _registered(cls, name: str) -> str:
        # A ValueError, so the loader reports it against the file and node.
        try:
            get_function(name)
        except (KeyError, ImportError, PluginError) as exc:  # unregistered, or cannot load
            raise ValueError(exc.args[0]) from None
        return name


@node_type("python", PythonConfig, kinds=("python",), estimate=offline, reads_row=False)
async def run_python(call: NodeCall[PythonConfig]) -> NodeOutcome:
    """Call the registered function with the row's values; it returns the output columns."""
    result = await call_function(call.config.function, call.values, call.config.args)
    if not isinstance(result, dict):
        raise NodeError(
            f"python function {call.config.function!r} returned {type(result).__name__}, "
            "expected a dict of output columns"
        )
    return NodeOutcome(outputs=result)
