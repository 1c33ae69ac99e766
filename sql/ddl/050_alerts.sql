-- Alerting: the state that makes every alert go out exactly once.
-- Re-runnable (IF NOT EXISTS throughout). include/inventory/alerts/ writes these tables; docs/alerts.md explains
-- the episode rules and the outbox states.

-- Who gets the low-stock digests (the recipients) is kept by the manager portal: portal.inventory_managers
-- (060_portal.sql); the alert routing only reads it.

-- Alert state is kept out of analytics (which the publish step alone writes, and rebuilds).
CREATE SCHEMA IF NOT EXISTS alerts;
COMMENT ON SCHEMA alerts IS 'Low-stock episodes and the email outbox. Written only by the alerting task.';

-- A low-stock episode of one product in one warehouse: opens when on-hand first falls to or under the threshold,
-- escalates once to critical on a stock-out, closes when restocked above the threshold. No foreign keys to raw:
-- like analytics, this schema follows what the published tables say and must survive a rebuild of raw.
CREATE TABLE IF NOT EXISTS alerts.low_stock_episodes (
    episode_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id      integer NOT NULL,
    warehouse_id    integer NOT NULL,
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,
    level           text NOT NULL CHECK (level IN ('low', 'critical')),
    opened_quantity integer NOT NULL CHECK (opened_quantity >= 0),
    last_quantity   integer NOT NULL CHECK (last_quantity >= 0),
    notified_level  text CHECK (notified_level IN ('low', 'critical')),
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
-- At most one open episode per pair: the rule "opens once, no repeat while open" held by the database too.
CREATE UNIQUE INDEX IF NOT EXISTS low_stock_episodes_open_idx
    ON alerts.low_stock_episodes (product_id, warehouse_id) WHERE closed_at IS NULL;
COMMENT ON TABLE alerts.low_stock_episodes IS 'Low-stock episodes per product x warehouse; notified_level is the level last emailed.';

-- The outbox: every email is a row here before it is sent, with the exact MIME text, so a retry sends the same
-- message (same Message-ID) and nothing is lost when the SMTP server is down.
CREATE TABLE IF NOT EXISTS alerts.alert_log (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL,
    dedup_key       text UNIQUE,
    recipients      text[] NOT NULL,
    subject         text NOT NULL,
    episode_keys    text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    message_id      text,
    mime            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
-- The kinds of email (account: the manager portal's address confirmations and password resets; freshness: the
-- analytics lag). Re-stated on every run so an older database gets the newer list.
ALTER TABLE alerts.alert_log DROP CONSTRAINT IF EXISTS alert_log_kind_check;
ALTER TABLE alerts.alert_log ADD CONSTRAINT alert_log_kind_check
    CHECK (kind IN ('low_stock', 'discrepancy', 'failure', 'freshness', 'account'));
CREATE INDEX IF NOT EXISTS alert_log_unsent_idx ON alerts.alert_log (alert_id) WHERE status <> 'sent';

-- Freshness: an episode opens when the published analytics fall more than freshness_limit_minutes behind the
-- minute (now - the newest published source minute) and closes when they are back within it; one email each.
CREATE TABLE IF NOT EXISTS alerts.freshness_episodes (
    episode_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    opened_at             timestamptz NOT NULL,
    as_of_at_open         timestamptz NOT NULL,
    worst_lag_seconds     numeric(12, 1) NOT NULL CHECK (worst_lag_seconds >= 0),
    closed_at             timestamptz,
    lag_at_close_seconds  numeric(12, 1),
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE UNIQUE INDEX IF NOT EXISTS freshness_episodes_open_idx ON alerts.freshness_episodes ((true)) WHERE closed_at IS NULL;
COMMENT ON TABLE alerts.freshness_episodes IS 'Periods when the published analytics were more than freshness_limit_minutes behind the minute.';
COMMENT ON TABLE alerts.alert_log IS 'Email outbox: pending -> sent; failed when refused, out of attempts or without recipient (last_error says).';
