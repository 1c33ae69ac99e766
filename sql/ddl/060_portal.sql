-- The manager portal (include/portal): accounts and login attempts. Re-runnable (IF NOT EXISTS throughout).
--
-- Credentials live here, in their own schema, not in raw (which analysts and the pipeline read) and not in
-- analytics (which bi_reader reads): only the portal's own connection uses this schema. An inventory manager's
-- account points at their row in raw.inventory_managers, the table the low-stock alert routing reads: registering
-- makes them a recipient for their location, deactivating stops the emails. docs/portal.md explains the rules.
CREATE SCHEMA IF NOT EXISTS portal;
COMMENT ON SCHEMA portal IS 'Manager portal accounts and login attempts. Written only by the portal; holds password hashes.';

CREATE TABLE IF NOT EXISTS portal.accounts (
    account_id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role            text NOT NULL CHECK (role IN ('store_manager', 'inventory_manager')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    phone           text NOT NULL,
    -- argon2id, in the PHC string format argon2-cffi writes ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    address         text NOT NULL,
    location_id     integer NOT NULL REFERENCES raw.warehouse_locations (location_id),
    store_name      text,
    department      text,
    manager_id      integer UNIQUE REFERENCES raw.inventory_managers (manager_id),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    CHECK (role <> 'store_manager' OR (store_name IS NOT NULL AND manager_id IS NULL)),
    CHECK (role <> 'inventory_manager' OR (department IS NOT NULL AND manager_id IS NOT NULL))
);
-- An email is unique per role (case-insensitively): one person may hold both roles, with separate passwords.
CREATE UNIQUE INDEX IF NOT EXISTS accounts_role_email_idx ON portal.accounts (role, lower(email));
COMMENT ON TABLE portal.accounts IS 'Portal accounts: store and inventory managers; inventory managers link to raw.inventory_managers.';

-- Every login attempt, for throttling: failures per (email, client address) and per client address in a recent
-- window. In the database rather than in memory, so the count survives a restart and holds across workers.
CREATE TABLE IF NOT EXISTS portal.login_attempts (
    attempt_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL,  -- as typed, lower-cased; it need not belong to an account
    client_ip       text NOT NULL,
    succeeded       boolean NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS login_attempts_email_idx ON portal.login_attempts (email, client_ip, attempted_at);
CREATE INDEX IF NOT EXISTS login_attempts_ip_idx ON portal.login_attempts (client_ip, attempted_at);
COMMENT ON TABLE portal.login_attempts IS 'Login attempts for throttling; rows older than a day are deleted by the portal.';
