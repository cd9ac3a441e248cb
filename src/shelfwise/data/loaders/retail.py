"""UCI Online Retail invoices: one purchase event per invoice line, returns netted out.

Invoices whose number starts with ``C`` are returns (negative quantities). A customer's
purchases of an item are dropped when returns cancel all of them; partial returns leave the
purchases. Lines without a customer id cannot be attributed and are dropped. Both drops are
counted in ``Dataset.notes``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError


def load_online_retail(path: str | Path, on_error: OnError = "fail") -> Dataset:
    raw, pre = read_delimited(path, on_error="skip")
    notes = []
    no_customer = raw["CustomerID"].isna()
    notes.append(f"{int(no_customer.sum())} lines without a customer id dropped")
    raw = raw[~no_customer].copy()
    raw["CustomerID"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    qty = pd.to_numeric(raw["Quantity"], errors="coerce")
    is_return = raw["InvoiceNo"].str.startswith("C") | (qty < 0)
    net = qty.groupby([raw["CustomerID"], raw["StockCode"]]).transform("sum")
    cancelled = ~is_return & (net <= 0)
    notes.append(f"{int(is_return.sum())} return lines netted out; "
                 f"{int(cancelled.sum())} purchase lines fully returned dropped")
    buys = raw[~is_return & ~cancelled]
    when = pd.to_datetime(buys["InvoiceDate"], format="%m/%d/%Y %H:%M", errors="coerce", utc=True)
    events = pd.DataFrame({
        "user_id": buys["CustomerID"], "item_id": buys["StockCode"],
        "event_type": "purchase",
        "timestamp": ((when - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).astype(
            "string").where(when.notna(), buys["InvoiceDate"]),
        "session_id": buys["InvoiceNo"], "value": buys["Quantity"], "line": buys["line"],
        "context": [f'{{"unit_price": {p}}}' if p else None for p in buys["UnitPrice"].fillna("")],
    })
    latest = raw[~is_return].drop_duplicates("StockCode", keep="last")
    items = pd.DataFrame({
        "item_id": latest["StockCode"], "title": latest["Description"].str.strip(),
        "price": pd.to_numeric(latest["UnitPrice"], errors="coerce"),
    })
    countries = raw.drop_duplicates("CustomerID", keep="last")
    users = pd.DataFrame({"user_id": countries["CustomerID"],
                          "attributes": [{"country": c} for c in countries["Country"]]})
    ds = finish(Path(path).stem, events, on_error, str(path), pre, items=items, users=users)
    ds.notes.extend(notes)
    return ds
