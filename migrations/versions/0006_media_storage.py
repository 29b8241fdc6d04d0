"""media storage: where each recording's media is, which storages are alive, whose file a session sends

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000

Workers on different machines do not share a disk: `recordings.storage` names the MEDIA_DIR
holding a recording's files, and a stage claims only rows on its own storage (or none yet).
`storages.alive_until` is renewed by every run on a storage; the unfinished recordings of a
storage nobody renews are taken over by another worker, which downloads them again.
`publications.session_media` names the file a YouTube session is sending, so that a session is
never resumed with the bytes of a copy made again elsewhere. Rows stored before this revision
have no storage: any worker may take them, and downloads them again if the file is not there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'storages',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('media_dir', sa.Text(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('alive_until', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage', sa.String(length=64), nullable=True))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_media', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_column('session_media')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_column('storage')
    op.drop_table('storages')
