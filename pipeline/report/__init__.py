"""The daily report: its typed model, the renderers, and producing the files."""
