"""publication chosen_title

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:00:00.000000

A title a person chose (`upload -i`) moves to its own column; `title` keeps the title a
publication was last saved with. Until now `title` held both, and a publication never tried
(PENDING, no attempt) can only have had its title from `upload -i`: that one is carried over.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chosen_title', sa.Text(), nullable=True))
    op.execute(
        "UPDATE publications SET chosen_title = title "
        "WHERE title IS NOT NULL AND status = 'PENDING' AND attempts = 0"
    )


def downgrade() -> None:
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_column('chosen_title')
