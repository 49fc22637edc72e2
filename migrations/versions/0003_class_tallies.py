"""class tallies kept by triggers, and an index of each annotator's votes in order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00

The queue's "class with the fewest annotators" and the team's progress counted
distinct annotators over every vote on each request, which grows with the
survey. `class_tallies` keeps that count per class. Triggers, not the app,
keep it in step with `classes` and `votes`, so that every writer (the vote
path, a restore, a script) leaves it right, in the writer's own transaction.
On SQLite a batch migration that recreates `votes` or `classes` drops their
triggers: such a migration must create them again.

ix_votes_annotator_id lets "previous" and "next" along an annotator's voting
order walk their votes by id instead of grouping all of them by class.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER class_tallies_new_class AFTER INSERT ON classes
    BEGIN
        INSERT INTO class_tallies (class_wnid, class_index, annotators)
        VALUES (NEW.wnid, NEW."index", 0);
    END""",
    # SQLite runs one writer at a time, so the check sees every committed vote.
    """CREATE TRIGGER class_tallies_vote_added AFTER INSERT ON votes
    WHEN NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = NEW.annotator_id
                     AND class_wnid = NEW.class_wnid AND id <> NEW.id)
    BEGIN
        UPDATE class_tallies SET annotators = annotators + 1
        WHERE class_wnid = NEW.class_wnid;
    END""",
    """CREATE TRIGGER class_tallies_vote_removed AFTER DELETE ON votes
    WHEN NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = OLD.annotator_id
                     AND class_wnid = OLD.class_wnid)
    BEGIN
        UPDATE class_tallies SET annotators = annotators - 1
        WHERE class_wnid = OLD.class_wnid;
    END""",
]

# Each vote trigger locks the class's tally row before it looks for the
# annotator's other votes: two first votes of one annotator on one class, sent
# at once, then take turns, and the second one's check (a new snapshot per
# statement under READ COMMITTED) sees the first and does not count it again.
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION class_tallies_new_class() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO class_tallies (class_wnid, class_index, annotators)
        VALUES (NEW.wnid, NEW."index", 0);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER class_tallies_new_class AFTER INSERT ON classes
    FOR EACH ROW EXECUTE FUNCTION class_tallies_new_class()""",
    """CREATE FUNCTION class_tallies_vote_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM class_tallies WHERE class_wnid = NEW.class_wnid FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = NEW.annotator_id
                       AND class_wnid = NEW.class_wnid AND id <> NEW.id) THEN
            UPDATE class_tallies SET annotators = annotators + 1
            WHERE class_wnid = NEW.class_wnid;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER class_tallies_vote_added AFTER INSERT ON votes
    FOR EACH ROW EXECUTE FUNCTION class_tallies_vote_added()""",
    """CREATE FUNCTION class_tallies_vote_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM class_tallies WHERE class_wnid = OLD.class_wnid FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = OLD.annotator_id
                       AND class_wnid = OLD.class_wnid) THEN
            UPDATE class_tallies SET annotators = annotators - 1
            WHERE class_wnid = OLD.class_wnid;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER class_tallies_vote_removed AFTER DELETE ON votes
    FOR EACH ROW EXECUTE FUNCTION class_tallies_vote_removed()""",
]

TRIGGERS = [
    ("class_tallies_new_class", "classes"),
    ("class_tallies_vote_added", "votes"),
    ("class_tallies_vote_removed", "votes"),
]


def upgrade():
    op.create_table(
        "class_tallies",
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.Column("annotators", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_wnid"], ["classes.wnid"], name=op.f("fk_class_tallies_class_wnid_classes")
        ),
        sa.PrimaryKeyConstraint("class_wnid", name=op.f("pk_class_tallies")),
    )
    with op.batch_alter_table("class_tallies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_class_tallies_queue", ["annotators", "class_index", "class_wnid"], unique=False
        )

    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index("ix_votes_annotator_id", ["annotator_id", "id"], unique=False)

    op.execute(
        "INSERT INTO class_tallies (class_wnid, class_index, annotators) "
        'SELECT wnid, "index", (SELECT count(DISTINCT annotator_id) FROM votes '
        "WHERE votes.class_wnid = classes.wnid) FROM classes"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGERS:
        if postgres:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        else:
            op.execute(f"DROP TRIGGER {name}")

    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_annotator_id")

    with op.batch_alter_table("class_tallies", schema=None) as batch_op:
        batch_op.drop_index("ix_class_tallies_queue")

    op.drop_table("class_tallies")
