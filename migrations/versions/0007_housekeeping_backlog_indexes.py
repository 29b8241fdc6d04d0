"""housekeeping backlogs: partial indexes of what `clean`, `free-zoom` and the quota alert read

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00.000000

`clean` read every finished row older than its cutoff, `free-zoom` every published or expired
row, and the quota-wait alert every PROCESSED row with its publications, then filtered in
Python: at 10,000 recordings a day each run read the year's history. These indexes hold only the
rows each one may act on, in the order it reads them in pages: finished rows whose media is not
expired yet, published rows whose Zoom copy is not freed yet, publications waiting for quota.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXPIRABLE_SQL = "status IN ('UPLOADED', 'SKIPPED')"
ZOOM_DUE_SQL = "status IN ('UPLOADED', 'EXPIRED') AND zoom_cleanup IS NULL"
WAITING_SQL = "status = 'WAITING'"


def upgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        for name, where in (
            ('ix_recordings_expirable', EXPIRABLE_SQL),
            ('ix_recordings_zoom_due', ZOOM_DUE_SQL),
        ):
            batch_op.create_index(
                name,
                ['start_time', 'id'],
                unique=False,
                postgresql_where=sa.text(where),
                sqlite_where=sa.text(where),
            )
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index(
            'ix_publications_waiting',
            ['created_at'],
            unique=False,
            postgresql_where=sa.text(WAITING_SQL),
            sqlite_where=sa.text(WAITING_SQL),
        )


def downgrade() -> None:
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index('ix_publications_waiting')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_zoom_due')
        batch_op.drop_index('ix_recordings_expirable')
