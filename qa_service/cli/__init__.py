"""``qa-service`` command line. Heavy libraries are imported inside commands so ``--help`` is instant.

Exit codes (``_common.EXIT_CODES_HELP``, shown by ``--help``): 0 every record processed, 3 some records or files
skipped (each reported on stderr) and the rest processed, 2 bad input or usage or no record usable, 4 a model could
not be loaded, 1 anything unexpected, 130 interrupted.
"""

from __future__ import annotations

import typer

from qa_service.cli import core, feedback, models, platform, scoring, training
from qa_service.cli._common import EXIT_CODES_HELP

app = typer.Typer(add_completion=False, no_args_is_help=True, epilog=EXIT_CODES_HELP,
                  help="AI-assisted QA and feedback analysis for customer service (Spanish and English).")
app.command()(core.sentiment)
app.command(epilog=EXIT_CODES_HELP)(scoring.score)
app.command()(core.serve)
app.add_typer(models.models_app, name="models")
app.add_typer(models.rubric_app, name="rubric")
app.add_typer(training.data_app, name="data")
app.add_typer(training.train_app, name="train")
app.add_typer(feedback.topics_app, name="topics")
app.command("complaints")(feedback.complaints)
app.add_typer(platform.db_app, name="db")
app.add_typer(platform.keys_app, name="keys")
app.add_typer(platform.reviews_app, name="reviews")
app.command("ingest")(platform.ingest)
app.command("worker")(platform.worker)
app.command()(core.version)


def main() -> None:  # pragma: no cover
    app()
