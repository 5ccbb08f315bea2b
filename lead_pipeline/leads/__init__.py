"""Lead files in and out: reading, validation, stable ids, import and export."""

from lead_pipeline.lazy import lazy_exports

# Each name loads its submodule on first use (see lead_pipeline/lazy.py).
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "errors": ("LeadFileError",),
        "exporter": (
            "EXPORT_FORMATS",
            "ExportError",
            "ExportOptions",
            "default_export_path",
            "export_lead_list",
            "export_list",
        ),
        "importer": (
            "import_file",
            "load_file",
        ),
        "readers": (
            "READ_FORMATS",
            "SourceRecord",
            "read_records",
        ),
    },
)
