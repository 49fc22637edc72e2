"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 18:44:42.330506

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "search_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=256), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_counts")),
        sa.UniqueConstraint("term", "provider", name=op.f("uq_search_counts_term")),
    )
    op.create_table(
        "synsets",
        sa.Column("wnid", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("lemmas_json", sa.Text(), nullable=False),
        sa.Column("gloss", sa.Text(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("wnid", name=op.f("pk_synsets")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "classes",
        sa.Column("wnid", sa.String(length=16), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("n_paths", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["wnid"], ["synsets.wnid"], name=op.f("fk_classes_wnid_synsets")),
        sa.PrimaryKeyConstraint("wnid", name=op.f("pk_classes")),
        sa.UniqueConstraint("index", name=op.f("uq_classes_index")),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_invitations_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["users.id"], name=op.f("fk_invitations_used_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_table(
        "synset_edges",
        sa.Column("child", sa.String(length=16), nullable=False),
        sa.Column("parent", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["child"], ["synsets.wnid"], name=op.f("fk_synset_edges_child_synsets")
        ),
        sa.ForeignKeyConstraint(
            ["parent"], ["synsets.wnid"], name=op.f("fk_synset_edges_parent_synsets")
        ),
        sa.PrimaryKeyConstraint("child", "parent", name=op.f("pk_synset_edges")),
    )
    op.create_table(
        "chain_entries",
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("synset_wnid", sa.String(length=16), nullable=False),
        sa.Column("paths", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_chain_entries_class_wnid_classes")
        ),
        sa.ForeignKeyConstraint(
            ["synset_wnid"], ["synsets.wnid"], name=op.f("fk_chain_entries_synset_wnid_synsets")
        ),
        sa.PrimaryKeyConstraint("class_wnid", "position", name=op.f("pk_chain_entries")),
        sa.UniqueConstraint("class_wnid", "synset_wnid", name=op.f("uq_chain_entries_class_wnid")),
    )
    with op.batch_alter_table("chain_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_entries_synset_wnid"), ["synset_wnid"], unique=False
        )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("synset_wnid", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["users.id"], name=op.f("fk_decisions_admin_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_decisions_class_wnid_classes")
        ),
        sa.ForeignKeyConstraint(
            ["synset_wnid"], ["synsets.wnid"], name=op.f("fk_decisions_synset_wnid_synsets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_class_wnid"), ["class_wnid"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("synset_wnid", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submission_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotator_id"], ["users.id"], name=op.f("fk_votes_annotator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_votes_class_wnid_classes")
        ),
        sa.ForeignKeyConstraint(
            ["synset_wnid"], ["synsets.wnid"], name=op.f("fk_votes_synset_wnid_synsets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_votes_submission_id")),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_votes_annotator_class", ["annotator_id", "class_wnid", "id"], unique=False
        )
        batch_op.create_index("ix_votes_class", ["class_wnid"], unique=False)


def downgrade():
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_class")
        batch_op.drop_index("ix_votes_annotator_class")

    op.drop_table("votes")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_class_wnid"))

    op.drop_table("decisions")
    with op.batch_alter_table("chain_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_entries_synset_wnid"))

    op.drop_table("chain_entries")
    op.drop_table("synset_edges")
    op.drop_table("invitations")
    op.drop_table("classes")
    op.drop_table("users")
    op.drop_table("synsets")
    op.drop_table("search_counts")
    op.drop_table("meta")
