"""The emails themselves: multipart MIME (plain text, HTML, a CSV attachment) for the low-stock digest, the
discrepancy digest and a task failure. Pure functions: no database, no SMTP."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from include.inventory.alerts.episodes import CRITICAL
from include.inventory.alerts.recipients import mailbox, one_line, validate_address

DEFAULT_SENDER = "inventory-alerts@example.com"
# 7bit: non-ASCII bodies are quoted-printable/base64, so any SMTP server takes the stored message as it is.
MAIL_POLICY = policy.default.clone(cte_type="7bit")


def build_message(
    *,
    sender: str,
    to: Sequence[Address],
    subject: str,
    text: str,
    html_body: str | None = None,
    attachment: tuple[str, bytes] | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """A multipart email: plain text, optional HTML alternative, optional CSV attachment (filename, bytes)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = mailbox(sender, "Inventory alerts")
    msg["To"] = tuple(to)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=validate_address(sender).split("@")[1])
    msg.set_content(text)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    if attachment is not None:
        filename, data = attachment
        msg.add_attachment(
            data, maintype="text", subtype="csv", filename=one_line(filename), params={"charset": "utf-8"}
        )
    return msg


def cell_text(value: object) -> str:
    return "" if value is None else one_line(value)


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it so opening the file runs nothing.
        writer.writerow([f"'{c}" if c[:1] in ("=", "+", "-", "@") and not _is_number(c) else c for c in row])
    return buffer.getvalue().encode("utf-8")


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header), *[[c or "-" for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f'<th style="text-align:left;padding:4px 8px">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:4px 8px">{html.escape(c)}</td>' for c in row) + "</tr>" for row in rows
    )
    table = '<table style="border-collapse:collapse" border="1">'
    return f"{table}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html_page(title: str, paragraphs: Sequence[str], table: str, links: Sequence[tuple[str, str]] = ()) -> str:
    ps = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    anchors = "".join(f'<p><a href="{html.escape(u, quote=True)}">{html.escape(label)}</a></p>' for label, u in links)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{ps}{table}{anchors}</body></html>"
    )


def portal_links(portal_url: str | None, page: str = "low_stock") -> list[tuple[str, str]]:
    """The manager portal's pages a manager's digest links to (Variable `portal_base_url`): the part of their
    inventory page the digest is about (`low_stock`: the stock list showing what is low; `reconciliation`), and
    the account page where the emails are switched off."""
    if not portal_url:
        return []
    base = one_line(portal_url).rstrip("/")
    pages = {
        "low_stock": ("Your location's low stock on the manager portal", f"{base}/dashboard?status=low#stock"),
        "reconciliation": ("Your location's discrepancies on the manager portal", f"{base}/dashboard#rec-heading"),
    }
    return [pages[page], ("Manage these emails (switch them off or on)", f"{base}/account")]


def as_of_line(as_of: datetime | None) -> list[str]:
    """The paragraph that says how fresh the listed numbers are (the analytics publish they come from)."""
    if as_of is None:
        return []
    return [f"Data as of {as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC (the latest analytics publish)."]


# Column headers as people read them; the CSV attachment carries the same ones.
LOW_STOCK_COLUMNS = (
    "Level",
    "Product",
    "SKU",
    "Warehouse",
    "Location",
    "On hand (units)",
    "Low-stock threshold (units)",
    "Reorder point (units)",
    "On order (units)",
    "Suggested order, net of on order (units)",
    "Days of cover",
)


@dataclass(frozen=True)
class LowStockItem:
    episode_id: int
    level: str
    location_id: int
    warehouse_name: str
    row: tuple[str, ...]  # LOW_STOCK_COLUMNS, as text


def low_stock_message(
    items: Sequence[LowStockItem],
    to: Sequence[Address],
    greeting: str,
    sender: str,
    now: datetime | None = None,
    links: Sequence[tuple[str, str]] = (),
    as_of: datetime | None = None,
) -> EmailMessage:
    critical = sum(1 for i in items if i.level == CRITICAL)
    warehouses = sorted({i.warehouse_name for i in items})
    subject = f"[inventory] {len(items)} new low-stock item{'s' if len(items) != 1 else ''}" + (
        f" ({critical} out of stock)" if critical else ""
    )
    subject += f" in {', '.join(warehouses[:3])}" + (" and more" if len(warehouses) > 3 else "")
    intro = [
        greeting,
        "These products fell to or under the low-stock threshold (level critical: out of stock) since our last "
        "email. Each one is listed once; you will hear again only if it runs out of stock.",
        "On order: units on purchase orders placed and not yet received. The suggested order is what is still "
        "needed after them (0: the open orders already cover it), so following it never orders the same units twice.",
        *as_of_line(as_of),
    ]
    rows = [i.row for i in items]
    text = "\n\n".join([*intro, _text_table(LOW_STOCK_COLUMNS, rows), *(f"{k}:\n{u}" for k, u in links)]) + "\n"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M")
    return build_message(
        sender=sender,
        to=to,
        subject=subject,
        text=text,
        html_body=_html_page(subject, intro, _html_table(LOW_STOCK_COLUMNS, rows), links),
        attachment=(f"low_stock_{stamp}.csv", csv_bytes(LOW_STOCK_COLUMNS, rows)),
        now=now,
    )


DISCREPANCY_COLUMNS = (
    "Date (UTC)",
    "Product",
    "SKU",
    "Warehouse",
    "Location",
    "Expected closing stock (units)",
    "Counted closing stock (units)",
    "Difference (units)",
    "Difference value (at cost)",
)


def discrepancy_subject(day: date, count: int) -> str:
    return f"[inventory] Stock discrepancies on {day.isoformat()}: {count} over tolerance"


def discrepancy_message(
    day: date,
    rows: Sequence[Sequence[str]],
    to: Sequence[Address],
    tolerance_units: int,
    tolerance_value: Decimal,
    sender: str,
    now: datetime | None = None,
    as_of: datetime | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """The daily digest of reconciliation rows (DISCREPANCY_COLUMNS, as text) over the tolerances."""
    subject = discrepancy_subject(day, len(rows))
    intro = [
        f"Stock counts that disagree with sales and receipts on {day.isoformat()} (UTC) by more than "
        f"{tolerance_units} units or {tolerance_value} in value. A negative amount is stock lost without a "
        "sale: shrinkage, damage or a miscount. Definitions: docs/metrics.md (fact_inventory_reconciliation).",
        *as_of_line(as_of),
    ]
    text_links = [f"{k}:\n{u}" for k, u in links]
    return build_message(
        sender=sender,
        to=to,
        subject=subject,
        text="\n\n".join([*intro, _text_table(DISCREPANCY_COLUMNS, rows), *text_links]) + "\n",
        html_body=_html_page(subject, intro, _html_table(DISCREPANCY_COLUMNS, rows), links),
        attachment=(f"discrepancies_{day.isoformat()}.csv", csv_bytes(DISCREPANCY_COLUMNS, rows)),
        now=now,
    )


def failure_fields(context: Mapping[str, Any]) -> dict[str, str]:
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")

    def attr(name: str, default: object = "") -> str:
        value = getattr(ti, name, None) if ti is not None else None
        return one_line(value if value is not None else default)

    log_url = ""
    try:
        log_url = one_line(getattr(ti, "log_url", "") or "")
    except Exception:  # noqa: BLE001 - the link is a convenience; the rest of the message matters more
        log_url = ""
    exception = context.get("exception")
    return {
        "dag_id": attr("dag_id", getattr(dag, "dag_id", "")),
        "task_id": attr("task_id"),
        "run_id": attr("run_id", context.get("run_id", "")),
        "try_number": attr("try_number"),
        "map_index": attr("map_index", -1),
        "log_url": log_url if log_url.startswith(("http://", "https://")) else "",
        "error": one_line(f"{type(exception).__name__}: {exception}")[:500] if exception is not None else "",
    }


def failure_message(context: Mapping[str, Any], recipient: str, sender: str = DEFAULT_SENDER) -> EmailMessage:
    f = failure_fields(context)
    subject = f"[airflow] {f['dag_id']}.{f['task_id']} failed (run {f['run_id']}, try {f['try_number']})"
    labels = [
        ("DAG", f["dag_id"]),
        ("Task", f["task_id"] + (f" [{f['map_index']}]" if f["map_index"] not in ("", "-1") else "")),
        ("Run", f["run_id"]),
        ("Try", f["try_number"]),
        ("Error", f["error"] or "-"),
        ("Log", f["log_url"] or "(no link)"),
    ]
    text = "A task failed.\n\n" + "\n".join(f"{k + ':':<7}{v}" for k, v in labels) + "\n"
    cells = "".join(
        f"<tr><th style='text-align:left;padding:2px 8px'>{html.escape(k)}</th><td>"
        + (
            f'<a href="{html.escape(v, quote=True)}">{html.escape(v)}</a>'
            if k == "Log" and f["log_url"]
            else html.escape(v)
        )
        + "</td></tr>"
        for k, v in labels
    )
    return build_message(
        sender=sender,
        to=[mailbox(recipient)],
        subject=subject,
        text=text,
        html_body=_html_page(subject, ["A task failed."], f"<table>{cells}</table>"),
    )
