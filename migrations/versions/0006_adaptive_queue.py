"""the adaptive queue: each class's state, and the suggestion shown with a vote

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00

`class_states` keeps, per class, what its counted votes make of it
(`clustering.confidence`): the leading label, its probability, the counted
votes, and whether the queue has closed the class (enough agreement, or the
most votes a class may get). The vote path rewrites a class's row in the
vote's own transaction; the queue skips closed classes. A class without a row
has no votes and is open.

`votes.suggestion_wnid` is the suggestion the annotator was shown when voting
(pre-selected or marked), NULL when it was hidden or is unknown (votes cast
before this revision): a vote that only accepted a shown suggestion is weak
evidence, and the confidence counts it so.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "class_states",
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("leader", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_class_states_class_wnid_classes")
        ),
        sa.PrimaryKeyConstraint("class_wnid", name=op.f("pk_class_states")),
    )
    # A plain column added, no batch copy: the triggers of migration 0003 on `votes`
    # survive (a batch migration that recreated the table would drop them on SQLite).
    op.add_column("votes", sa.Column("suggestion_wnid", sa.String(length=16), nullable=True))


def downgrade():
    # ALTER TABLE, not a batch copy, for the same reason (SQLite 3.35 and newer).
    op.execute("ALTER TABLE votes DROP COLUMN suggestion_wnid")
    op.drop_table("class_states")
