"""The manager portal: registration, login and live dashboards for store and inventory managers.

A FastAPI application of its own (`create_app(settings)` in `include.portal.app`), served by uvicorn on its own port
(`make portal`, `python -m include.portal`). Accounts live in the `portal` schema (sql/ddl/060_portal.sql); an
inventory manager's account is linked to their row in `portal.inventory_managers`, which the low-stock alert routing
reads. Dashboards read the `analytics` tables as the read-only role `bi_reader`, with the SQL in sql/portal/.
docs/portal.md describes it.
"""
