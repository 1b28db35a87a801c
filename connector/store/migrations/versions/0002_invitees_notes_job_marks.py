"""Planner invitees, note metadata and job marks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:42:38.692403

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # autogenerate renders sqlmodel.sql.sqltypes.AutoString (alembic#1647)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "notes",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("pas_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pupil_pas_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("author_pas_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gespreksdatum", sa.Date(), nullable=True),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_notes_school_id_schools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
        sa.UniqueConstraint("school_id", "pas_id", name=op.f("uq_notes_school_id_pas_id")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index("ix_notes_school_id_pupil_pas_id", ["school_id", "pupil_pas_id"], unique=False)

    op.create_table(
        "job_marks",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_job_marks_run_id_sync_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_marks")),
    )
    with op.batch_alter_table("job_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_marks_job"), ["job"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_marks_run_id"), ["run_id"], unique=False)

    op.create_table(
        "planner_invitees",
        sa.Column("planner_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("child_planner_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["planner_id"], ["planners.id"], name=op.f("fk_planner_invitees_planner_id_planners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"], ["pupils.id"], name=op.f("fk_planner_invitees_pupil_id_pupils"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("planner_id", "pupil_id", name=op.f("pk_planner_invitees")),
    )
    with op.batch_alter_table("planner_invitees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planner_invitees_pupil_id"), ["pupil_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("planner_invitees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planner_invitees_pupil_id"))

    op.drop_table("planner_invitees")
    with op.batch_alter_table("job_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_marks_run_id"))
        batch_op.drop_index(batch_op.f("ix_job_marks_job"))

    op.drop_table("job_marks")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_school_id_pupil_pas_id")

    op.drop_table("notes")
