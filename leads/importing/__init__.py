"""Lead import: reading files, mapping known layouts, and the all-or-nothing import service.

`leads_import` is the entry point for the command line and the admin alike.
"""

from leads.importing.parsing import RowError
from leads.importing.presets import PRESETS, LayoutRefused, mapping_for, preset_detect
from leads.importing.reading import FileRefused, Table, table_open
from leads.importing.service import (
    ImportRefused,
    ImportReport,
    LeadOutcome,
    leads_import,
    leads_score_and_qualify,
)

__all__ = [
    "PRESETS",
    "FileRefused",
    "ImportRefused",
    "ImportReport",
    "LayoutRefused",
    "LeadOutcome",
    "RowError",
    "Table",
    "leads_import",
    "leads_score_and_qualify",
    "mapping_for",
    "preset_detect",
    "table_open",
]
