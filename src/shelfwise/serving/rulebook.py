"""The shop's business rules as saved from the dashboard, with an audit of every change.

Two tables beside the events (same database URL, so every serving process sees them):
``shop_rules`` holds one row, the current ``RuleSet`` as JSON with a revision number, and
``shop_rules_audit`` one row per change (who: the API key id; when; the rules before and
after). While ``shop_rules`` is empty the rules of the settings (``shelfwise.toml``) serve;
once rules are saved, the saved ones serve in their place.

    book = RuleBook(store.engine)
    book.save(RuleSet(hidden_items=["P000017"]), who="ab12cd34")
    book.current()  # (RuleSet, revision) or (None, 0)
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from shelfwise.data.rules import RuleSet

_metadata = sa.MetaData()
rules_table = sa.Table(
    "shop_rules", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),  # RuleSet JSON
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
)
audit_table = sa.Table(
    "shop_rules_audit", _metadata,
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.Float(precision=53), nullable=False),
    sa.Column("who", sa.String(255), nullable=False),
    sa.Column("before", sa.Text, nullable=False),  # RuleSet JSON (the settings' rules before the first save)
    sa.Column("after", sa.Text, nullable=False),
)


class RuleBook:
    """Read and save the shop's rules in the database behind ``engine``."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        _metadata.create_all(engine)

    def current(self) -> tuple[RuleSet | None, int]:
        """(the saved rules, their revision), or (None, 0) when none were ever saved."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rules_table.c.rules, rules_table.c.revision)
                               .where(rules_table.c.id == 1)).first()
        return (RuleSet.model_validate_json(row.rules), int(row.revision)) if row else (None, 0)

    def save(self, rules: RuleSet, who: str, before: RuleSet) -> int:
        """Store ``rules`` as the shop's (``before``: the rules serving until now) and audit the
        change; returns the new revision. One transaction: the audit row and the rules agree."""
        now, after = time.time(), rules.model_dump_json()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(rules_table.c.revision).where(rules_table.c.id == 1)).first()
            revision = (int(row.revision) if row else 0) + 1
            values = {"revision": revision, "rules": after, "updated_at": now, "updated_by": who}
            if row:
                conn.execute(rules_table.update().where(rules_table.c.id == 1).values(**values))
            else:
                conn.execute(rules_table.insert().values(id=1, **values))
            conn.execute(audit_table.insert().values(revision=revision, at=now, who=who,
                                                     before=before.model_dump_json(), after=after))
        return revision

    def audit(self, limit: int = 50) -> list[dict]:
        """The latest changes, newest first: {revision, at, who, before, after} (JSON text)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_table).order_by(audit_table.c.revision.desc())
                                .limit(limit)).all()
        return [dict(r._mapping) for r in rows]
