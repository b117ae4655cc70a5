"""Text utilities: language identification and normalisation."""
