"""closed classes marked in their tallies and counted, and classes voted on per annotator

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:00:00

The queue's statements asked `class_states` whether each class was closed and
counted the closed ones on every request: at 21,843 classes that looked at every
class the annotator may not take. `class_tallies.closed` mirrors
`class_states.closed`, so the queue walks the open classes by one index,
(closed, class_index) for the batch and (closed, annotators, class_index) beyond
it, and stops at the first class it may give; `queue_counts` keeps the number of
closed classes in its one row. Triggers on `class_states` keep both, in the
writer's own transaction, as migration 0003's keep the tallies.

`annotator_tallies` keeps the number of classes each annotator has voted on (the
home page's count and progress), which counting their votes read all of them:
triggers on `votes`, as 0003's for the classes. On PostgreSQL each locks the
annotator's row before it looks for their other votes on the class, so that two
first votes of one annotator on one class, sent at once, count once.

On PostgreSQL the count's row is locked by each transaction that opens or closes
a class, after the class's tally row; a transaction that rewrites many classes'
states locks the tallies first (`class_states.refresh_all`) so that the two kinds
of transaction wait for each other in the same order.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A state row's closed flag, in each trigger: SQLite's triggers fire per case.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER class_tallies_state_added AFTER INSERT ON class_states
    WHEN NEW.closed
    BEGIN
        UPDATE class_tallies SET closed = 1 WHERE class_wnid = NEW.class_wnid;
        UPDATE queue_counts SET closed_classes = closed_classes + 1;
    END""",
    """CREATE TRIGGER class_tallies_state_changed AFTER UPDATE OF closed ON class_states
    WHEN NEW.closed <> OLD.closed
    BEGIN
        UPDATE class_tallies SET closed = NEW.closed WHERE class_wnid = NEW.class_wnid;
        UPDATE queue_counts
        SET closed_classes = closed_classes + CASE WHEN NEW.closed THEN 1 ELSE -1 END;
    END""",
    """CREATE TRIGGER class_tallies_state_removed AFTER DELETE ON class_states
    WHEN OLD.closed
    BEGIN
        UPDATE class_tallies SET closed = 0 WHERE class_wnid = OLD.class_wnid;
        UPDATE queue_counts SET closed_classes = closed_classes - 1;
    END""",
]

SQLITE_TRIGGERS += [
    """CREATE TRIGGER annotator_tallies_vote_added AFTER INSERT ON votes
    WHEN NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = NEW.annotator_id
                     AND class_wnid = NEW.class_wnid AND id <> NEW.id)
    BEGIN
        INSERT INTO annotator_tallies (annotator_id, classes) VALUES (NEW.annotator_id, 1)
        ON CONFLICT (annotator_id) DO UPDATE SET classes = classes + 1;
    END""",
    """CREATE TRIGGER annotator_tallies_vote_removed AFTER DELETE ON votes
    WHEN NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = OLD.annotator_id
                     AND class_wnid = OLD.class_wnid)
    BEGIN
        UPDATE annotator_tallies SET classes = classes - 1
        WHERE annotator_id = OLD.annotator_id;
    END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION class_tallies_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        was_closed boolean := false;
        is_closed boolean := false;
        wnid varchar(16);
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            was_closed := OLD.closed;
            wnid := OLD.class_wnid;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            is_closed := NEW.closed;
            wnid := NEW.class_wnid;
        END IF;
        IF was_closed IS DISTINCT FROM is_closed THEN
            UPDATE class_tallies SET closed = is_closed WHERE class_wnid = wnid;
            UPDATE queue_counts
            SET closed_classes = closed_classes + CASE WHEN is_closed THEN 1 ELSE -1 END;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER class_tallies_state_changed
    AFTER INSERT OR DELETE OR UPDATE OF closed ON class_states
    FOR EACH ROW EXECUTE FUNCTION class_tallies_state_changed()""",
    """CREATE FUNCTION annotator_tallies_vote_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO annotator_tallies (annotator_id, classes) VALUES (NEW.annotator_id, 0)
        ON CONFLICT (annotator_id) DO NOTHING;
        PERFORM 1 FROM annotator_tallies WHERE annotator_id = NEW.annotator_id FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = NEW.annotator_id
                       AND class_wnid = NEW.class_wnid AND id <> NEW.id) THEN
            UPDATE annotator_tallies SET classes = classes + 1
            WHERE annotator_id = NEW.annotator_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER annotator_tallies_vote_added AFTER INSERT ON votes
    FOR EACH ROW EXECUTE FUNCTION annotator_tallies_vote_added()""",
    """CREATE FUNCTION annotator_tallies_vote_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM annotator_tallies WHERE annotator_id = OLD.annotator_id FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM votes WHERE annotator_id = OLD.annotator_id
                       AND class_wnid = OLD.class_wnid) THEN
            UPDATE annotator_tallies SET classes = classes - 1
            WHERE annotator_id = OLD.annotator_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER annotator_tallies_vote_removed AFTER DELETE ON votes
    FOR EACH ROW EXECUTE FUNCTION annotator_tallies_vote_removed()""",
]

SQLITE_TRIGGER_NAMES = [
    "class_tallies_state_added",
    "class_tallies_state_changed",
    "class_tallies_state_removed",
    "annotator_tallies_vote_added",
    "annotator_tallies_vote_removed",
]
POSTGRES_TRIGGERS_ON = [
    ("class_tallies_state_changed", "class_states"),
    ("annotator_tallies_vote_added", "votes"),
    ("annotator_tallies_vote_removed", "votes"),
]


def upgrade():
    # A plain column added, no batch copy: the table's triggers and rows stay.
    op.add_column(
        "class_tallies",
        sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "queue_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("closed_classes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_counts")),
    )
    op.create_table(
        "annotator_tallies",
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("classes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"], ["users.id"], name=op.f("fk_annotator_tallies_annotator_id_users")
        ),
        sa.PrimaryKeyConstraint("annotator_id", name=op.f("pk_annotator_tallies")),
    )
    op.execute(
        "INSERT INTO annotator_tallies (annotator_id, classes) "
        "SELECT annotator_id, count(DISTINCT class_wnid) FROM votes GROUP BY annotator_id"
    )
    op.execute(
        "UPDATE class_tallies SET closed = true WHERE class_wnid IN "
        "(SELECT class_wnid FROM class_states WHERE closed)"
    )
    op.execute(
        "INSERT INTO queue_counts (id, closed_classes) "
        "SELECT 1, count(*) FROM class_states WHERE closed"
    )
    op.drop_index("ix_class_tallies_queue", table_name="class_tallies")
    op.create_index(
        "ix_class_tallies_open", "class_tallies", ["closed", "class_index", "class_wnid"]
    )
    op.create_index(
        "ix_class_tallies_open_queue",
        "class_tallies",
        ["closed", "annotators", "class_index", "class_wnid"],
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, table in POSTGRES_TRIGGERS_ON:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_class_tallies_open_queue", table_name="class_tallies")
    op.drop_index("ix_class_tallies_open", table_name="class_tallies")
    op.create_index(
        "ix_class_tallies_queue", "class_tallies", ["annotators", "class_index", "class_wnid"]
    )
    op.drop_table("queue_counts")
    op.drop_table("annotator_tallies")
    # ALTER TABLE, not a batch copy, which would drop migration 0003's triggers on SQLite
    # (3.35 and newer drop a column in place); the column's index is gone already.
    op.execute("ALTER TABLE class_tallies DROP COLUMN closed")
