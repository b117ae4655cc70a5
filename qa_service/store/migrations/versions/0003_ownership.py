"""ownership: jobs and scores remember the API key that created them (and its team, for an optional team scope)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', sa.String(length=100), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('owner_team', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_jobs_owner_key_id', ['owner_key_id'], unique=False)
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('owner_team', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_scores_owner_key_id', ['owner_key_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_index('ix_scores_owner_key_id')
        batch_op.drop_column('owner_team')
        batch_op.drop_column('owner_key_id')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_owner_key_id')
        batch_op.drop_column('owner_team')
        batch_op.drop_column('owner_key_id')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('team')
