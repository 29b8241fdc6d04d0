"""recordings.sync_digest and synced_at: a re-sync skips the instances Zoom lists unchanged

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:00:00.000000

A re-sync parsed every listed instance, read back every stored column of its row and compared
them in Python, to find nothing changed for almost all of them. `sync_digest` is a hash of the
listing a sync stored the row from (and of the settings the stored values depend on), written
with `synced_at` equal to the row's `updated_at`; while the two are equal nothing else wrote the
row, and an instance listed with the same digest is unchanged without being parsed. Rows stored
before this revision have no digest: the next sync compares them in full and writes theirs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_digest', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_column('synced_at')
        batch_op.drop_column('sync_digest')
