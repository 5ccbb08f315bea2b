"""Workflow definitions: the YAML model, the loader, the ``where`` language and templates."""

from lead_pipeline.workflows.expressions import (
    Expression,
    ExpressionError,
    ExpressionEvaluationError,
    compile_expression,
    compile_where,
)
from lead_pipeline.workflows.loader import (
    BUILTIN_DIR,
    UnknownWorkflowError,
    WorkflowError,
    WorkflowSet,
    load_workflow_file,
    load_workflows,
    parse_workflow,
)
from lead_pipeline.workflows.model import NodeSpec, OutputSpec, WorkflowSpec
from lead_pipeline.workflows.templates import (
    Template,
    TemplateError,
    compile_template,
    render,
    render_value,
)

__all__ = [
    "BUILTIN_DIR",
    "Expression",
    "ExpressionError",
    "ExpressionEvaluationError",
    "NodeSpec",
    "OutputSpec",
    "Template",
    "TemplateError",
    "UnknownWorkflowError",
    "WorkflowError",
    "WorkflowSet",
    "WorkflowSpec",
    "compile_expression",
    "compile_template",
    "compile_where",
    "load_workflow_file",
    "load_workflows",
    "parse_workflow",
    "render",
    "render_value",
]
