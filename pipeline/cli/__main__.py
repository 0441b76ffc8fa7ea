"""``python -m pipeline.cli``: the same ``legday`` command line as the console script."""

from pipeline.cli.main import app

app(prog_name="legday")
