"""the started open classes each account has neither voted on nor skipped

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 08:30:00

Beyond its batch the queue gives the started open class with the fewest annotators
(then the lowest index) that the annotator has neither voted on nor skipped. It
walked the open classes in that order and looked each one up in the annotator's
votes and skips, so it read every open class they had voted on that came first:
where classes stay open (a team smaller than the closing rule needs, or the rule's
maximum not reached yet) that grew with their votes, 21,843 classes and 9.9 ms of
CPU a request for an annotator who had voted on all of ImageNet-21k's (0.05 now). `queue_offers`
holds, per account, those classes it may still be given, in the queue's order: the
first of them beyond the batch is the answer, after at most the batch's own rows.

Triggers keep it in the writer's transaction, as 0003's and 0007's keep the tallies:
a class's rows follow its tally (written when it is started or reopened, moved with
its number of annotators, removed when it closes); a vote or a skip removes the
annotator's row, and removing the last one puts it back; a new account gets a row
per class it may be given. A vote writes a row per account that may still be given
the class: the price of reading a few rows instead of the annotator's votes
(`record_vote`'s CPU 0.74 to 0.84 ms with 36 accounts at 21,843 open classes; a new
account 75 ms).

On PostgreSQL the trigger on a class's tally runs under the tally's row lock, as the
vote path and a skip's trigger take it first; a new account's rows are written under
an advisory lock that every change of a class's rows shares, so that a class started
or closed meanwhile is not missed by both.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# What makes a class offered, on a class_tallies row (NEW or OLD, or t).
OFFERED = "NOT {row}.closed AND {row}.annotators > 0"
# The account and the class have no vote and no skip between them.
UNTAKEN = (
    "NOT EXISTS (SELECT 1 FROM votes WHERE votes.annotator_id = {account} "
    "AND votes.class_wnid = {wnid}) "
    "AND NOT EXISTS (SELECT 1 FROM skips WHERE skips.annotator_id = {account} "
    "AND skips.class_wnid = {wnid})"
)
COLUMNS = "INSERT INTO queue_offers (annotator_id, class_wnid, annotators, class_index) "
# Every account's row for the class NEW, where it is theirs to take.
OFFER_CLASS = (
    COLUMNS
    + "SELECT users.id, NEW.class_wnid, NEW.annotators, NEW.class_index FROM users WHERE "
    + UNTAKEN.format(account="users.id", wnid="NEW.class_wnid")
)
# The row of the account and the class of OLD (a vote or skip removed), where the class
# is offered and they have neither voted on it nor skipped it any more.
OFFER_AGAIN = (
    COLUMNS
    + "SELECT OLD.annotator_id, t.class_wnid, t.annotators, t.class_index "
    + "FROM class_tallies t WHERE t.class_wnid = OLD.class_wnid AND "
    + OFFERED.format(row="t")
    + " AND "
    + UNTAKEN.format(account="OLD.annotator_id", wnid="OLD.class_wnid")
)
# A new account's rows: every offered class (it has no vote nor skip yet).
OFFER_ACCOUNT = (
    COLUMNS
    + "SELECT NEW.id, t.class_wnid, t.annotators, t.class_index FROM class_tallies t WHERE "
    + OFFERED.format(row="t")
)
TAKE = (
    "DELETE FROM queue_offers WHERE annotator_id = NEW.annotator_id AND class_wnid = NEW.class_wnid"
)
WAS, IS = OFFERED.format(row="OLD"), OFFERED.format(row="NEW")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER queue_offers_class_offered
    AFTER UPDATE OF annotators, closed ON class_tallies
    WHEN ({IS}) AND NOT ({WAS})
    BEGIN
        {OFFER_CLASS};
    END""",
    f"""CREATE TRIGGER queue_offers_class_moved
    AFTER UPDATE OF annotators, closed ON class_tallies
    WHEN ({IS}) AND ({WAS}) AND NEW.annotators <> OLD.annotators
    BEGIN
        UPDATE queue_offers SET annotators = NEW.annotators WHERE class_wnid = NEW.class_wnid;
    END""",
    f"""CREATE TRIGGER queue_offers_class_withdrawn
    AFTER UPDATE OF annotators, closed ON class_tallies
    WHEN ({WAS}) AND NOT ({IS})
    BEGIN
        DELETE FROM queue_offers WHERE class_wnid = NEW.class_wnid;
    END""",
    f"""CREATE TRIGGER queue_offers_vote_added AFTER INSERT ON votes
    BEGIN
        {TAKE};
    END""",
    f"""CREATE TRIGGER queue_offers_skip_added AFTER INSERT ON skips
    BEGIN
        {TAKE};
    END""",
    f"""CREATE TRIGGER queue_offers_vote_removed AFTER DELETE ON votes
    BEGIN
        {OFFER_AGAIN};
    END""",
    f"""CREATE TRIGGER queue_offers_skip_removed AFTER DELETE ON skips
    BEGIN
        {OFFER_AGAIN};
    END""",
    f"""CREATE TRIGGER queue_offers_account_added AFTER INSERT ON users
    BEGIN
        {OFFER_ACCOUNT};
    END""",
]
SQLITE_TRIGGER_NAMES = [
    "queue_offers_class_offered",
    "queue_offers_class_moved",
    "queue_offers_class_withdrawn",
    "queue_offers_vote_added",
    "queue_offers_skip_added",
    "queue_offers_vote_removed",
    "queue_offers_skip_removed",
    "queue_offers_account_added",
]

# The advisory lock a new account's rows are written under (exclusive) and every
# change of a class's rows shares: any number kept for this one purpose.
OFFERS_LOCK = 20261207
# The class's tally row locked before the account's rows for it are read or written:
# the vote path and 0003's triggers lock it too, so a skip or a removal and a change
# of the class take turns.
LOCK_CLASS = "PERFORM 1 FROM class_tallies WHERE class_wnid = {wnid} FOR SHARE;"

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION queue_offers_class_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF ({IS}) IS DISTINCT FROM ({WAS}) OR NEW.annotators <> OLD.annotators THEN
            PERFORM pg_advisory_xact_lock_shared({OFFERS_LOCK});
        END IF;
        IF ({IS}) AND NOT ({WAS}) THEN
            {OFFER_CLASS};
        ELSIF ({IS}) AND NEW.annotators <> OLD.annotators THEN
            UPDATE queue_offers SET annotators = NEW.annotators
            WHERE class_wnid = NEW.class_wnid;
        ELSIF ({WAS}) AND NOT ({IS}) THEN
            DELETE FROM queue_offers WHERE class_wnid = NEW.class_wnid;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER queue_offers_class_changed
    AFTER UPDATE OF annotators, closed ON class_tallies
    FOR EACH ROW EXECUTE FUNCTION queue_offers_class_changed()""",
    f"""CREATE FUNCTION queue_offers_taken() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {LOCK_CLASS.format(wnid="NEW.class_wnid")}
        {TAKE};
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER queue_offers_vote_added AFTER INSERT ON votes
    FOR EACH ROW EXECUTE FUNCTION queue_offers_taken()""",
    """CREATE TRIGGER queue_offers_skip_added AFTER INSERT ON skips
    FOR EACH ROW EXECUTE FUNCTION queue_offers_taken()""",
    f"""CREATE FUNCTION queue_offers_given_back() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {LOCK_CLASS.format(wnid="OLD.class_wnid")}
        {OFFER_AGAIN};
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER queue_offers_vote_removed AFTER DELETE ON votes
    FOR EACH ROW EXECUTE FUNCTION queue_offers_given_back()""",
    """CREATE TRIGGER queue_offers_skip_removed AFTER DELETE ON skips
    FOR EACH ROW EXECUTE FUNCTION queue_offers_given_back()""",
    f"""CREATE FUNCTION queue_offers_account_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({OFFERS_LOCK});
        {OFFER_ACCOUNT};
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER queue_offers_account_added AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION queue_offers_account_added()""",
]
POSTGRES_TRIGGERS_ON = [
    ("queue_offers_class_changed", "class_tallies"),
    ("queue_offers_vote_added", "votes"),
    ("queue_offers_skip_added", "skips"),
    ("queue_offers_vote_removed", "votes"),
    ("queue_offers_skip_removed", "skips"),
    ("queue_offers_account_added", "users"),
]
POSTGRES_FUNCTIONS = [
    "queue_offers_class_changed",
    "queue_offers_taken",
    "queue_offers_given_back",
    "queue_offers_account_added",
]


def upgrade():
    op.create_table(
        "queue_offers",
        sa.Column("class_wnid", sa.String(length=16), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("annotators", sa.Integer(), nullable=False),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_wnid"],
            ["classes.wnid"],
            name=op.f("fk_queue_offers_class_wnid_classes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["users.id"],
            name=op.f("fk_queue_offers_annotator_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("class_wnid", "annotator_id", name=op.f("pk_queue_offers")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_queue_offers_queue",
        "queue_offers",
        ["annotator_id", "annotators", "class_index", "class_wnid"],
    )
    op.execute(
        COLUMNS
        + "SELECT users.id, t.class_wnid, t.annotators, t.class_index "
        + "FROM users CROSS JOIN class_tallies t WHERE "
        + OFFERED.format(row="t")
        + " AND "
        + UNTAKEN.format(account="users.id", wnid="t.class_wnid")
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, table in POSTGRES_TRIGGERS_ON:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_queue_offers_queue", table_name="queue_offers")
    op.drop_table("queue_offers")
