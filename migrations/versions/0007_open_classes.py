"""whether a class is closed, kept in its tally, and the count of closed classes

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
]

SQLITE_TRIGGER_NAMES = [
    "class_tallies_state_added",
    "class_tallies_state_changed",
    "class_tallies_state_removed",
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
        op.execute("DROP TRIGGER class_tallies_state_changed ON class_states")
        op.execute("DROP FUNCTION class_tallies_state_changed()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_class_tallies_open_queue", table_name="class_tallies")
    op.drop_index("ix_class_tallies_open", table_name="class_tallies")
    op.create_index(
        "ix_class_tallies_queue", "class_tallies", ["annotators", "class_index", "class_wnid"]
    )
    op.drop_table("queue_counts")
    # ALTER TABLE, not a batch copy, which would drop migration 0003's triggers on SQLite
    # (3.35 and newer drop a column in place); the column's index is gone already.
    op.execute("ALTER TABLE class_tallies DROP COLUMN closed")
