-- Raw layer: the seed's tables (same names, columns, keys) plus what a correct, re-runnable pipeline needs.
-- Every fact row carries the batch_id of the ingest batch that wrote it; re-running a batch replaces its rows.

CREATE TABLE IF NOT EXISTS raw.ingest_batches (
    batch_id        text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('catalogue', 'master', 'simulation')),
    window_start    timestamptz,
    window_end      timestamptz,
    source          text NOT NULL CHECK (source IN ('api', 'snapshot', 'simulator')),
    status          text NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    row_counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    rejected_count  integer NOT NULL DEFAULT 0 CHECK (rejected_count >= 0),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    duration_ms     integer,
    error           text,
    CHECK (window_end IS NULL OR window_start IS NULL OR window_end > window_start)
);
-- The analytics plan's questions: the newest window, and what was loaded since the last publish.
CREATE INDEX IF NOT EXISTS ingest_batches_window_end_idx ON raw.ingest_batches (kind, window_end);
CREATE INDEX IF NOT EXISTS ingest_batches_finished_idx ON raw.ingest_batches (finished_at);

CREATE TABLE IF NOT EXISTS raw.warehouse_locations (
    location_id     integer PRIMARY KEY,
    location_name   text NOT NULL UNIQUE,
    city            text NOT NULL,
    state           text,
    country         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS raw.warehouse (
    warehouse_id    integer PRIMARY KEY,
    warehouse_name  text NOT NULL UNIQUE,
    location_id     integer NOT NULL REFERENCES raw.warehouse_locations (location_id),
    capacity        integer NOT NULL CHECK (capacity > 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS raw.suppliers (
    supplier_id     integer PRIMARY KEY,
    supplier_name   text NOT NULL UNIQUE,
    contact_email   text NOT NULL,
    contact_phone   text,
    country         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS raw.products (
    product_id      integer PRIMARY KEY,
    sku             text NOT NULL UNIQUE CHECK (sku ~ '^SKU-[0-9]{5,}$'),
    product_name    text NOT NULL CHECK (length(product_name) > 0),
    category        text NOT NULL,
    brand           text,
    unit            text NOT NULL CHECK (unit IN ('pcs', 'kg', 'ltr')),
    cost_price      numeric(12, 2) NOT NULL CHECK (cost_price > 0),
    selling_price   numeric(12, 2) NOT NULL CHECK (selling_price > 0),
    lead_time       integer NOT NULL CHECK (lead_time BETWEEN 1 AND 14),
    source_id       integer,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (cost_price <= selling_price)
);

CREATE TABLE IF NOT EXISTS raw.product_quarantine (
    quarantine_id   bigserial PRIMARY KEY,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id),
    source_id       text,
    reason          text NOT NULL,
    payload         jsonb,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS product_quarantine_batch_idx ON raw.product_quarantine (batch_id);

CREATE TABLE IF NOT EXISTS raw.product_suppliers (
    product_id      integer NOT NULL REFERENCES raw.products (product_id),
    supplier_id     integer NOT NULL REFERENCES raw.suppliers (supplier_id),
    supply_price    numeric(12, 2) NOT NULL CHECK (supply_price > 0),
    is_primary      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (product_id, supplier_id)
);

-- Stock counts: the true on-hand quantity at counted_at (shrinkage included).
CREATE TABLE IF NOT EXISTS raw.inventory (
    inventory_id    bigserial PRIMARY KEY,
    product_id      integer NOT NULL REFERENCES raw.products (product_id),
    warehouse_id    integer NOT NULL REFERENCES raw.warehouse (warehouse_id),
    quantity        integer NOT NULL CHECK (quantity >= 0),
    count_type      text NOT NULL CHECK (count_type IN ('window', 'daily', 'initial')),
    counted_at      timestamptz NOT NULL,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id),
    UNIQUE (product_id, warehouse_id, counted_at, count_type)
);
CREATE INDEX IF NOT EXISTS inventory_batch_idx ON raw.inventory (batch_id);
CREATE INDEX IF NOT EXISTS inventory_latest_idx ON raw.inventory (product_id, warehouse_id, counted_at DESC);

CREATE TABLE IF NOT EXISTS raw.product_sales (
    sale_id         bigserial PRIMARY KEY,
    product_id      integer NOT NULL REFERENCES raw.products (product_id),
    warehouse_id    integer NOT NULL REFERENCES raw.warehouse (warehouse_id),
    units_sold      integer NOT NULL CHECK (units_sold > 0),
    unit_price      numeric(12, 2) NOT NULL CHECK (unit_price > 0),
    total_revenue   numeric(14, 2) GENERATED ALWAYS AS (units_sold * unit_price) STORED,
    sale_date       timestamptz NOT NULL,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id)
);
CREATE INDEX IF NOT EXISTS product_sales_batch_idx ON raw.product_sales (batch_id);
CREATE INDEX IF NOT EXISTS product_sales_date_idx ON raw.product_sales (sale_date);
-- One pair's sales over a window: what an analytics run that recomputes a few pairs reads.
CREATE INDEX IF NOT EXISTS product_sales_pair_idx ON raw.product_sales (product_id, warehouse_id, sale_date);

-- A replenishment order, placed when stock falls to the reorder point; its goods arrive after the lead time as a
-- stock receipt, written by the batch whose window the arrival falls in. order_id is a natural key, so a
-- re-run batch reproduces the same ids.
CREATE TABLE IF NOT EXISTS raw.purchase_orders (
    order_id        text PRIMARY KEY,
    product_id      integer NOT NULL REFERENCES raw.products (product_id),
    warehouse_id    integer NOT NULL REFERENCES raw.warehouse (warehouse_id),
    supplier_id     integer NOT NULL REFERENCES raw.suppliers (supplier_id),
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_cost       numeric(12, 2) NOT NULL CHECK (unit_cost > 0),
    ordered_at      timestamptz NOT NULL,
    expected_at     timestamptz NOT NULL,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id),
    CHECK (expected_at > ordered_at)
);
CREATE INDEX IF NOT EXISTS purchase_orders_batch_idx ON raw.purchase_orders (batch_id);
CREATE INDEX IF NOT EXISTS purchase_orders_ordered_idx ON raw.purchase_orders (ordered_at);
-- One pair's orders: what an analytics run that recomputes a few pairs reads.
CREATE INDEX IF NOT EXISTS purchase_orders_pair_idx ON raw.purchase_orders (product_id, warehouse_id, ordered_at);

CREATE TABLE IF NOT EXISTS raw.stock_receipts (
    receipt_id      bigserial PRIMARY KEY,
    order_id        text NOT NULL,
    product_id      integer NOT NULL REFERENCES raw.products (product_id),
    warehouse_id    integer NOT NULL REFERENCES raw.warehouse (warehouse_id),
    supplier_id     integer NOT NULL REFERENCES raw.suppliers (supplier_id),
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_cost       numeric(12, 2) NOT NULL CHECK (unit_cost > 0),
    ordered_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    batch_id        text NOT NULL REFERENCES raw.ingest_batches (batch_id),
    CHECK (received_at >= ordered_at)
);
CREATE INDEX IF NOT EXISTS stock_receipts_batch_idx ON raw.stock_receipts (batch_id);
CREATE INDEX IF NOT EXISTS stock_receipts_received_idx ON raw.stock_receipts (received_at);
CREATE INDEX IF NOT EXISTS stock_receipts_pair_idx ON raw.stock_receipts (product_id, warehouse_id, received_at);
CREATE UNIQUE INDEX IF NOT EXISTS stock_receipts_order_idx ON raw.stock_receipts (order_id);
