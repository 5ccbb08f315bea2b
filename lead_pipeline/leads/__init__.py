"""Lead files in and out: reading, validation, stable ids, import and export."""

from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.exporter import (
    EXPORT_FORMATS,
    ExportError,
    ExportOptions,
    default_export_path,
    export_lead_list,
    export_list,
)
from lead_pipeline.leads.importer import import_file, load_file
from lead_pipeline.leads.readers import READ_FORMATS, SourceRecord, read_records

__all__ = [
    "EXPORT_FORMATS",
    "READ_FORMATS",
    "ExportError",
    "ExportOptions",
    "LeadFileError",
    "SourceRecord",
    "default_export_path",
    "export_lead_list",
    "export_list",
    "import_file",
    "load_file",
    "read_records",
]
