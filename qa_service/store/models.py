"""Model versions the service ran with."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa_service.store.tables import ModelVersionRow


def register_model(session: Session, task: str, version: str, manifest: dict) -> ModelVersionRow:
    """Record a model version the service ran with (once per task + version)."""
    row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.task == task, ModelVersionRow.version == version))
    if row is None:
        row = ModelVersionRow(task=task, version=version, manifest=json.loads(json.dumps(manifest, default=str)))
        session.add(row)
        session.flush()
    return row
