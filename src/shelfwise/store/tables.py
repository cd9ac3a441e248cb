"""The store's schema (SQLAlchemy Core), shared by every SQL backend.

``metadata.create_all`` creates what is missing at open: a table added after a database was
made (``impressions``) appears in it then. It does not add an index to a table that already
exists, so indexes added later are also listed in ``LATE_INDEXES`` and created with
``CREATE INDEX IF NOT EXISTS`` at open.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # sqlite rowid alias
Float64 = sa.Float(precision=53)

events_table = sa.Table(
    "events", metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("item_id", sa.String(255)),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("timestamp", Float64, nullable=False),
    sa.Column("session_id", sa.String(255)),
    sa.Column("value", Float64),
    sa.Column("context", sa.Text),
    # One index does both jobs: it makes appends idempotent (an event id is unique per
    # user; derived ids include the user) and serves per-user reads and deletes. A second
    # index on event_id alone would halve bulk-import speed (random B-tree inserts).
    sa.UniqueConstraint("user_id", "event_id", name="uq_events_user_event"),
    # events_since reads the recent tail; live events arrive in time order, so this index
    # grows at its right edge and costs appends little.
    sa.Index("ix_events_timestamp", "timestamp"),
)
items_table = sa.Table(
    "items", metadata,
    sa.Column("item_id", sa.String(255), primary_key=True),
    sa.Column("title", sa.Text), sa.Column("description", sa.Text),
    sa.Column("category", sa.Text),  # JSON list, root first
    sa.Column("brand", sa.String(255)), sa.Column("price", Float64),
    sa.Column("attributes", sa.Text),  # JSON object
    sa.Column("in_stock", sa.Boolean, nullable=False, default=True),
)
users_table = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("attributes", sa.Text),
    sa.Column("consent", sa.Boolean, nullable=False, default=True),
)
# One row per item a served list showed (see EventStore.log_impressions).
impressions_table = sa.Table(
    "impressions", metadata,
    sa.Column("recommendation_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),  # 1-based
    sa.Column("item_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=False),  # "" for an anonymous session
    sa.Column("created_at", Float64, nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("propensity", Float64),  # None: the policy showed the item deterministically
    sa.Column("arm", sa.String(255)),
    sa.Column("experiment", sa.String(64)),  # the experiment the list was served in, if any
    # its variant (A/B), or the team that placed the item (interleaving)
    sa.Column("variant", sa.String(64)),
    sa.Index("ix_impressions_created_at", "created_at"),  # retention prunes by age
    sa.Index("ix_impressions_user_id", "user_id"),  # forgetting a shopper
    sa.Index("ix_impressions_experiment", "experiment"),  # an experiment's statistics
)

#: Columns added to tables that databases made before them already have: (table, column, SQL type).
LATE_COLUMNS = (("impressions", "experiment", "VARCHAR(64)"), ("impressions", "variant", "VARCHAR(64)"))
#: Indexes added to tables that databases made before them already have.
LATE_INDEXES = (("ix_events_timestamp", "events", "timestamp"),
                ("ix_impressions_experiment", "impressions", "experiment"))


def create_schema(engine: sa.Engine) -> None:
    """Create missing tables and indexes (idempotent; safe on a database of any earlier
    version of this schema)."""
    metadata.create_all(engine)
    inspector = sa.inspect(engine)
    have = {t: {c["name"] for c in inspector.get_columns(t)} for t in {t for t, _, _ in LATE_COLUMNS}}
    with engine.begin() as conn:
        for table, column, kind in LATE_COLUMNS:
            if column not in have[table]:
                # PostgreSQL's IF NOT EXISTS lets two processes opening one database race safely
                guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN {guard}"{column}" {kind}')
        for name, table, column in LATE_INDEXES:
            conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS {name} ON {table} ("{column}")')

#: Feedback the event log does not hold (Gorse's negative and unknown feedback types, sent to
#: its API under /api): one row per (user, item, type). A store table so forgetting a
#: shopper removes these rows too.
side_feedback_table = sa.Table(
    "gorse_feedback", metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("item_id", sa.String(255), primary_key=True),
    sa.Column("feedback_type", sa.String(255), primary_key=True),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("timestamp", sa.Float(precision=53), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Index("ix_gorse_feedback_item", "item_id"),
)


#: Forgetting (``store.forgets.ForgetLog``). A pending row names a shopper whose deletion is
#: not complete until a training run without them serves every model; it is deleted then.
forget_pending_table = sa.Table(
    "forget_pending", metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("requested_at", Float64, nullable=False),
)
#: One audit row per deletion, kept: when, by whom, what was removed; no personal data.
forget_audit_table = sa.Table(
    "forget_audit", metadata,
    sa.Column("audit_id", sa.String(32), primary_key=True),
    sa.Column("requested_at", Float64, nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),  # an API key id, "cli" or "python"
    sa.Column("events_deleted", sa.Integer, nullable=False),
    sa.Column("profile_rows_deleted", sa.Integer, nullable=False),
    sa.Column("impressions_deleted", sa.Integer, nullable=False),
    sa.Column("versions_scrubbed", sa.Integer, nullable=False),
    sa.Column("refit_version", sa.String(64)),  # the training run that completed it
    sa.Column("completed_at", Float64),
)

# Shopper portraits (``shelfwise.profiles``): per-shopper aggregates that every accepted batch
# of events adds to, so a portrait is read, not recomputed from the log. Sums of decayed
# weights are kept "anchored" (each event's weight times 2 ** ((t - anchor) / half-life)), so
# adding a batch is a plain SQL addition; the reader scales them to the time it asks about.
portrait_stats_table = sa.Table(
    "portrait_stats", metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("first_ts", Float64, nullable=False),
    sa.Column("last_ts", Float64, nullable=False),
    sa.Column("n_events", sa.Integer, nullable=False),
    sa.Column("n_purchases", sa.Integer, nullable=False),
    sa.Column("spend", Float64, nullable=False),
    sa.Column("last_purchase_ts", Float64),
    sa.Column("activity", Float64, nullable=False),  # anchored, activity half-life
    sa.Column("rel_bought_sum", Float64, nullable=False),  # price / category median, bought items
    sa.Column("rel_bought_n", sa.Integer, nullable=False),
    sa.Column("rel_viewed_sum", Float64, nullable=False),  # the same over items only looked at
    sa.Column("rel_viewed_n", sa.Integer, nullable=False),
    sa.Column("last_category", sa.Text),
    sa.Column("last_category_ts", Float64),
)
# (shopper, kind, key) -> value: kind "category" and "brand" (anchored affinity weights),
# "hour" and "weekday" (event counts), "price" (log-price bin counts of bought or carted items).
portrait_counts_table = sa.Table(
    "portrait_counts", metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", Float64, nullable=False),
)
# Shop-wide: how often a shopper's next event is in category ``next`` after one in ``prev``
# (no shopper ids: an aggregate that forgetting a shopper need not touch).
category_transitions_table = sa.Table(
    "category_transitions", metadata,
    sa.Column("prev", sa.String(255), primary_key=True),
    sa.Column("next", sa.String(255), primary_key=True),
    sa.Column("count", Float64, nullable=False),
)

# Marketing campaigns (``shelfwise.marketing.campaigns``): what was planned, and which shoppers
# were in it, in the treatment arm (sent the offer) or the random control (held out).
campaigns_table = sa.Table(
    "campaigns", metadata,
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("created_at", Float64, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: audience, budget, control share, window
)
campaign_members_table = sa.Table(
    "campaign_members", metadata,
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("arm", sa.String(16), nullable=False),  # "treatment" or "control"
    sa.Column("rank", sa.Integer, nullable=False),  # place in the audience, 1 = most likely
    sa.Index("ix_campaign_members_user", "user_id"),  # forgetting a shopper
)

# Raw events reduced to counts (``store.retention``): what retention deleted and what
# shoppers without consent did, per item and behaviour, with no shopper id.
item_counts_table = sa.Table(
    "item_counts", metadata,
    sa.Column("item_id", sa.String(255), primary_key=True),
    sa.Column("event_type", sa.String(32), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Experiments (``shelfwise.experiments``): A/B tests and interleaving. The served lists name
# theirs in the impression log (``impressions.experiment`` and ``variant``).
experiments_table = sa.Table(
    "experiments", metadata,
    sa.Column("experiment_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "ab" or "interleave"
    sa.Column("created_at", Float64, nullable=False),
    sa.Column("stopped_at", Float64),  # None while it runs
    sa.Column("spec", sa.Text, nullable=False),  # JSON: salt, traffic, pre-period, variants
)
