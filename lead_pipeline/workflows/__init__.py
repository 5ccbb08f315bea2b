"""Workflow definitions: the YAML model, the loader, the ``where`` language and templates."""

from lead_pipeline.lazy import lazy_exports

# Each name loads its submodule on first use (see lead_pipeline/lazy.py).
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "expressions": (
            "Expression",
            "ExpressionError",
            "ExpressionEvaluationError",
            "compile_expression",
            "compile_where",
        ),
        "errors": ("UnknownWorkflowError", "WorkflowError"),
        "loader": (
            "BUILTIN_DIR",
            "WorkflowSet",
            "load_workflow_file",
            "load_workflows",
            "parse_workflow",
        ),
        "model": (
            "NodeSpec",
            "OutputSpec",
            "WorkflowSpec",
        ),
        "templates": (
            "Template",
            "TemplateError",
            "compile_template",
            "render",
            "render_value",
        ),
    },
)
