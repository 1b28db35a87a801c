"""How a planner's families get their time, and how many of its invitees have no slot

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:00:00

`mode` is the planner's mode at the vendor (`self_select` or `preferences`: at closing the
service assigns the slots); `short` counts invitees for whom the window had no slot with the
people the conversation needs, so `status` can list a planner that is short. Existing planners
were all self-select, with as many slots as they were made with.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # autogenerate renders sqlmodel.sql.sqltypes.AutoString (alembic#1647)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("planners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="self_select")
        )
        batch_op.add_column(sa.Column("short", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("planners", schema=None) as batch_op:
        batch_op.alter_column("mode", server_default=None)
        batch_op.alter_column("short", server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("planners", schema=None) as batch_op:
        batch_op.drop_column("short")
        batch_op.drop_column("mode")
