"""The upload page's forms: they check the shape of the input; the jobs service does the rest."""

from django import forms

from leads.importing.jobs import upload_problem
from leads.importing.presets import PRESETS
from leads.models import Source

# Date formats people meet in lead files, besides ISO 8601 which is always read.
DATE_FORMATS = [
    ("", "ISO 8601 only (2024-03-31, 2024-03-31 14:05)"),
    ("%d/%m/%Y", "Day first: 31/03/2024"),
    ("%d/%m/%Y %H:%M", "Day first with time: 31/03/2024 14:05"),
    ("%m/%d/%Y", "Month first: 03/31/2024"),
    ("%m/%d/%Y %I:%M %p", "Month first with time: 03/31/2024 2:05 PM"),
    ("%d.%m.%Y", "Dotted: 31.03.2024"),
    ("%d-%m-%Y", "Dashed, day first: 31-03-2024"),
]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Lead file",
        help_text="CSV (comma, semicolon, tab or pipe; UTF-8 or Windows-1252) or Excel .xlsx.",
    )
    source = forms.ModelChoiceField(
        queryset=Source.objects.filter(active=True),
        required=False,
        label="Source",
        help_text="Rows without a source get this one, and its saved mapping reads the file.",
    )
    preset = forms.ChoiceField(
        label="Layout",
        required=False,
        choices=[("", "Detect from the headers")]
        + [(name, preset.label) for name, preset in PRESETS.items()],
    )
    date_format = forms.ChoiceField(label="Dates", required=False, choices=DATE_FORMATS)

    def clean_file(self):  # noqa: ANN201
        upload = self.cleaned_data["file"]
        problem = upload_problem(name=upload.name or "", size=upload.size or 0)
        if problem:
            raise forms.ValidationError(problem)
        return upload


class ImportConfirmForm(forms.Form):
    skip_invalid_rows = forms.BooleanField(
        required=False, label="Leave the rows with errors out and import the others"
    )
