"""each class state's number of vote rows, the version a vote checks before it writes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 05:00:00

A vote reads the class's votes and its state row in one statement, computes the new
state, and writes the vote and the state in one more only if the state's
`vote_rows` (the number of the class's vote rows it was computed from, superseded
ones included) is still the one it read (`survey_app.votes`). Every vote that goes
through the vote path writes it, and the rows only grow, so a vote committed on the
class in between always changes it. The vote used to take the class's row locks
first, then read and compute while holding them until its commit: under load, the
other votes on the class queued behind those round trips.

The lock order becomes the state row, then the class's tally and the count of closed
classes (the state's trigger), then the annotator's tally; `class_states.refresh_all`
locks the whole `class_states` table first instead of the tallies.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # A plain column added, no batch copy: SQLite's triggers on the table stay.
    op.add_column(
        "class_states",
        sa.Column("vote_rows", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE class_states SET vote_rows = "
        "(SELECT count(*) FROM votes WHERE votes.class_wnid = class_states.class_wnid)"
    )


def downgrade():
    # ALTER TABLE in place (SQLite 3.35 and newer), not a batch copy, which would drop
    # the triggers on class_states.
    op.execute("ALTER TABLE class_states DROP COLUMN vote_rows")
