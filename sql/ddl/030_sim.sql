-- Ground truth written by the simulator alongside the raw rows of the same batch. Tests only.
CREATE TABLE IF NOT EXISTS sim.shrinkage_events (
    event_id        bigserial PRIMARY KEY,
    product_id      integer NOT NULL,
    warehouse_id    integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    units           integer NOT NULL CHECK (units > 0),
    reason          text NOT NULL CHECK (reason IN ('theft', 'damage', 'expiry')),
    batch_id        text NOT NULL
);
CREATE INDEX IF NOT EXISTS shrinkage_events_batch_idx ON sim.shrinkage_events (batch_id);
