"""recordings: partial index of claimable rows in claim order

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:40:00.000000

A claim orders the rows ready for a stage by (start_time, id). With only ix_recordings_start_time,
PostgreSQL walked that index from the oldest row and read every finished one, so a claim's cost
grew with the history. This index holds only the rows a claim can take (a stage's input status,
or FAILED), in claim order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMABLE_SQL = "status IN ('INITIALIZED', 'DOWNLOADED', 'PROCESSED', 'FAILED')"


def upgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(
            'ix_recordings_claimable',
            ['start_time', 'id'],
            unique=False,
            postgresql_where=sa.text(CLAIMABLE_SQL),
            sqlite_where=sa.text(CLAIMABLE_SQL),
        )


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_claimable')
