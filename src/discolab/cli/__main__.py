"""`python -m discolab.cli`: the same as the `discolab` command."""

from discolab.cli import app

app()
