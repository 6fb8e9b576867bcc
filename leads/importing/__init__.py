"""Lead import: reading files, mapping known layouts, the dry run and the all-or-nothing import,
and the upload jobs that run them in a worker.

`leads_import` is the entry point for the command line and the admin; `leads.importing.jobs`
for the upload page.
"""

from leads.importing.canonical import canonical_email
from leads.importing.engine import ImportOptions, ImportReport, LeadOutcome
from leads.importing.parsing import RowError
from leads.importing.presets import (
    PRESETS,
    CustomMapping,
    LayoutRefused,
    mapping_for,
    preset_detect,
)
from leads.importing.reading import FileRefused, Table, table_open
from leads.importing.service import (
    ImportRefused,
    leads_import,
    leads_import_check,
    leads_import_write,
    leads_score_and_qualify,
    table_opener,
)

__all__ = [
    "PRESETS",
    "CustomMapping",
    "FileRefused",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "LayoutRefused",
    "LeadOutcome",
    "RowError",
    "Table",
    "canonical_email",
    "leads_import",
    "leads_import_check",
    "leads_import_write",
    "leads_score_and_qualify",
    "mapping_for",
    "preset_detect",
    "table_open",
    "table_opener",
]
