"""session generations, and usernames unique whatever their case

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:30:00

`users.session_generation` is part of every session's user id (auth.py):
raising it ends all the sessions of the account, which signed cookies alone
cannot do.

`uq_users_username_lower` makes "Alice" and "alice" one name. A database that
already holds such a pair cannot take the index: the upgrade then stops
before changing anything and names every clash, for an admin to rename one of
each pair first.

Both are plain additions, with no batch copy of `users`: on SQLite a batch
migration recreates the table, which the votes, decisions and invitations
refer to.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CLASHES = sa.text(
    "SELECT lower(username) AS name, username FROM users WHERE lower(username) IN "
    "(SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1) "
    "ORDER BY lower(username), username"
)


class UsernameClash(RuntimeError):
    """Usernames that differ only in case; the message lists them."""


def clashing_usernames(connection) -> list[list[str]]:
    """Groups of usernames equal but for case, sorted."""
    groups: dict[str, list[str]] = {}
    for name, username in connection.execute(CLASHES):
        groups.setdefault(name, []).append(username)
    return list(groups.values())


def upgrade():
    clashes = clashing_usernames(op.get_bind())
    if clashes:
        listed = "; ".join(", ".join(repr(name) for name in group) for group in clashes)
        raise UsernameClash(
            f"usernames must now be unique whatever their case, and these differ only in "
            f"case: {listed}. Rename all but one of each group (UPDATE users SET username = "
            "'...' WHERE username = '...'), then run the upgrade again; nothing was changed."
        )
    op.add_column(
        "users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade():
    op.drop_index("uq_users_username_lower", table_name="users")
    op.drop_column("users", "session_generation")
