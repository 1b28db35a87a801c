"""One conversation per invitation, its teachers, staff names, and when the service began

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:00:00

A pupil could have one conversation per round and category, so the OPP extra conversation and
the main one shared a row; now each (planner, child) invitation has its own (`occasion`). The
accountable teachers become a list (a kindgesprek with duo teachers credits both). Existing rows
keep their meaning: a booking's occasion is its planner's `external_ref`, a kindgesprek's is
`kindgesprek`, and the one teacher becomes a list of one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # autogenerate renders sqlmodel.sql.sqltypes.AutoString (alembic#1647)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("served_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.alter_column("name", server_default=None)
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("occasion", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("staff_ids", sa.JSON(), nullable=False, server_default="[]"))
    op.execute(
        "UPDATE schools SET served_since = (SELECT MIN(done_at) FROM job_marks WHERE job = 'roster' "
        "AND key LIKE 'roster:' || schools.brin || ':%')"
    )
    op.execute(
        "UPDATE conversations SET occasion = COALESCE((SELECT planners.external_ref FROM bookings "
        "JOIN planners ON planners.id = bookings.planner_id WHERE bookings.id = conversations.booking_id), "
        "CASE WHEN source = 'kindgesprek' THEN 'kindgesprek' ELSE 'booking:' || id END)"
    )
    conversations = sa.table(
        "conversations", sa.column("id", sa.Integer), sa.column("staff_id", sa.Integer), sa.column("staff_ids", sa.JSON)
    )
    bind = op.get_bind()
    for row_id, staff_id in bind.execute(sa.select(conversations.c.id, conversations.c.staff_id)).all():
        if staff_id is not None:  # a JSON value written through SQLAlchemy: the same on SQLite and PostgreSQL
            bind.execute(conversations.update().where(conversations.c.id == row_id).values(staff_ids=[staff_id]))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_conversations_round_id_pupil_id_category", type_="unique")
        batch_op.drop_index(batch_op.f("ix_conversations_staff_id"))
        batch_op.drop_constraint("fk_conversations_staff_id_staff", type_="foreignkey")
        batch_op.drop_column("staff_id")
        batch_op.alter_column("occasion", server_default=None)
        batch_op.alter_column("staff_ids", server_default=None)
        batch_op.create_unique_constraint(
            batch_op.f("uq_conversations_round_id_pupil_id_occasion"), ["round_id", "pupil_id", "occasion"]
        )


def downgrade() -> None:
    """Downgrade schema (a pupil's second conversation in a round and the conversations' teachers are dropped)."""
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_conversations_round_id_pupil_id_occasion"), type_="unique")
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
    op.execute(
        "DELETE FROM conversations WHERE source = 'not_seen' OR id NOT IN "
        "(SELECT MIN(id) FROM conversations GROUP BY round_id, pupil_id, category)"
    )
    op.execute("DELETE FROM verslag_checks WHERE conversation_id NOT IN (SELECT id FROM conversations)")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_staff_id_staff"), "staff", ["staff_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_conversations_staff_id"), ["staff_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_conversations_round_id_pupil_id_category"), ["round_id", "pupil_id", "category"]
        )
        batch_op.drop_column("staff_ids")
        batch_op.drop_column("occasion")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("name")
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("served_since")
