"""Personal fields no feature uses are no longer stored

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:00:00

Data minimisation (issue W2-7): store only what a feature uses (README, "What the store keeps
about people"). Dropped: a pupil's `handelingsplan` (the OPP decides the extra conversation, the
ondersteuningsniveau the IB's) and `uitschrijfdatum` (a leaver is purged by when the roster saw
them leave, `archived_at`); a pupil-guardian link's `gezag` and `ontvangt_informatie` (the
planner knows whom it messages). A downgrade brings the columns back empty (false, true, NULL);
nothing fills them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Batch mode: SQLite drops a column by copying the table (migrate.py turns foreign keys off, so
    # the copy cascades nothing).
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.drop_column("handelingsplan")
        batch_op.drop_column("uitschrijfdatum")
    with op.batch_alter_table("pupil_guardians", schema=None) as batch_op:
        batch_op.drop_column("gezag")
        batch_op.drop_column("ontvangt_informatie")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("pupil_guardians", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ontvangt_informatie", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("gezag", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uitschrijfdatum", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("handelingsplan", sa.Boolean(), nullable=False, server_default=sa.false()))
    for table, columns in (("pupil_guardians", ("ontvangt_informatie", "gezag")), ("pupils", ("handelingsplan",))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)
