"""label decisions: a label conflict settled in one act

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:40:00

An admin settles a conflict (a chosen label above other chosen labels) by
keeping some of the labels below it and merging the others into it, and may
name the rest of the general label with one of its lemmas. Append-only, like
the class decisions: for each label below a general label, the latest label
decision that names it counts. `keep_json` and `merge_json` hold JSON lists of
synset wnids.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "label_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("general_wnid", sa.String(length=16), nullable=False),
        sa.Column("keep_json", sa.Text(), nullable=False),
        sa.Column("merge_json", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["users.id"], name=op.f("fk_label_decisions_admin_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["general_wnid"],
            ["synsets.wnid"],
            name=op.f("fk_label_decisions_general_wnid_synsets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_decisions")),
    )


def downgrade():
    op.drop_table("label_decisions")
