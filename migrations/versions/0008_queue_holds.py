"""the class the queue last led each annotator to, held for a while

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 08:00:00

The queue gave every annotator who asked at the same moment the batch's one class
with the fewest votes: under 32 annotators, a class got up to 32 votes where
MAX_VOTES is 5 (8,188 of 10,254 votes beyond it in benchmarks/load_votes.py on
PostgreSQL), and their votes queued behind that class's lock. `queue_holds` keeps,
per annotator, the class the queue last led them to and until when; the queue
counts another annotator's unexpired hold on a class they have not voted on yet as
a vote to come (survey_app.work_queue). Holds are transient: nothing to backfill,
and a backup leaves them out.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "queue_holds",
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("held_until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"], ["users.id"], name=op.f("fk_queue_holds_annotator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_queue_holds_class_wnid_classes")
        ),
        sa.PrimaryKeyConstraint("annotator_id", name=op.f("pk_queue_holds")),
    )
    op.create_index("ix_queue_holds_class", "queue_holds", ["class_wnid", "held_until"])


def downgrade():
    op.drop_index("ix_queue_holds_class", table_name="queue_holds")
    op.drop_table("queue_holds")
