"""model registry and corrections: model versions with origin, bundle path, snapshot and comparison; the `current`
alias per task and its history (promote / rollback, gate decision, who, when); sentiment corrections; criterion
disputes (review kind and decision); job progress

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=20), nullable=False, server_default='seed'))
        batch_op.add_column(sa.Column('path', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('snapshot_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('comparison', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=100), nullable=True))
    op.create_table('model_aliases',
                    sa.Column('task', sa.String(length=50), nullable=False),
                    sa.Column('alias', sa.String(length=50), nullable=False),
                    sa.Column('version', sa.String(length=200), nullable=False),
                    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('updated_by', sa.String(length=100), nullable=True),
                    sa.PrimaryKeyConstraint('task', 'alias'))
    op.create_table('model_events',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('task', sa.String(length=50), nullable=False),
                    sa.Column('action', sa.String(length=20), nullable=False),
                    sa.Column('version', sa.String(length=200), nullable=False),
                    sa.Column('previous_version', sa.String(length=200), nullable=True),
                    sa.Column('gate', sa.JSON(), nullable=True),
                    sa.Column('forced', sa.Boolean(), nullable=False),
                    sa.Column('reason', sa.Text(), nullable=True),
                    sa.Column('actor', sa.String(length=100), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('model_events', schema=None) as batch_op:
        batch_op.create_index('ix_model_events_task', ['task', 'id'], unique=False)
    op.create_table('sentiment_corrections',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('comment_id', sa.Integer(), nullable=True),
                    sa.Column('text', sa.Text(), nullable=False),
                    sa.Column('text_hash', sa.String(length=64), nullable=False),
                    sa.Column('language', sa.String(length=10), nullable=True),
                    sa.Column('label', sa.String(length=10), nullable=False),
                    sa.Column('predicted', sa.String(length=10), nullable=True),
                    sa.Column('model_version', sa.String(length=200), nullable=True),
                    sa.Column('comment', sa.Text(), nullable=True),
                    sa.Column('redacted', sa.Boolean(), nullable=False),
                    sa.Column('author', sa.String(length=32), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], ondelete='SET NULL'),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('sentiment_corrections', schema=None) as batch_op:
        batch_op.create_index('ix_sentiment_corrections_hash', ['text_hash'], unique=False)
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='correction'))
        batch_op.add_column(sa.Column('decision', sa.String(length=10), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('progress')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_column('decision')
        batch_op.drop_column('kind')
    with op.batch_alter_table('sentiment_corrections', schema=None) as batch_op:
        batch_op.drop_index('ix_sentiment_corrections_hash')
    op.drop_table('sentiment_corrections')
    with op.batch_alter_table('model_events', schema=None) as batch_op:
        batch_op.drop_index('ix_model_events_task')
    op.drop_table('model_events')
    op.drop_table('model_aliases')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_column('created_by')
        batch_op.drop_column('comparison')
        batch_op.drop_column('snapshot_id')
        batch_op.drop_column('path')
        batch_op.drop_column('origin')
