-- The manager portal (include/portal): accounts, pending registrations, password resets, sessions, password checks,
-- and the low-stock alert recipients. Re-runnable (IF NOT EXISTS throughout). docs/portal.md explains the rules.
--
-- Credentials live here, in their own schema, not in raw (which analysts and the pipeline read) and not in
-- analytics (which bi_reader reads). The portal's own role (portal_app, 070_portal_app.sql) writes this schema and
-- nothing else in the warehouse but its own rows of the email outbox.
CREATE SCHEMA IF NOT EXISTS portal;
COMMENT ON SCHEMA portal IS 'Manager portal accounts, sessions and alert recipients. Written by the portal; holds password hashes.';

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
ALTER TABLE portal.accounts ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;
ALTER TABLE portal.accounts ADD COLUMN IF NOT EXISTS password_changed_at timestamptz;
-- An email is unique per role (case-insensitively): one person may hold both roles, with separate passwords.
CREATE UNIQUE INDEX IF NOT EXISTS accounts_role_email_idx ON portal.accounts (role, lower(email));
COMMENT ON TABLE portal.accounts IS 'Portal accounts, created only once the address is proved; inventory managers link to their alert recipient row.';

-- A registration waiting for its address to be proved: nothing else changes until the link from the email is
-- followed (and the password chosen here typed again). Several may wait for one address; the first confirmed wins.
CREATE TABLE IF NOT EXISTS portal.registrations (
    registration_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role            text NOT NULL CHECK (role IN ('store_manager', 'inventory_manager')),
    name            text NOT NULL,
    email           text NOT NULL,
    phone           text NOT NULL,
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    address         text NOT NULL,
    location_id     integer NOT NULL REFERENCES raw.warehouse_locations (location_id),
    store_name      text,
    department      text,
    token_hash      bytea NOT NULL,  -- sha256 of the link's secret part; the link itself is never stored here
    client_ip       text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    confirmed_at    timestamptz,
    account_id      integer REFERENCES portal.accounts (account_id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS registrations_email_idx ON portal.registrations (role, lower(email));
COMMENT ON TABLE portal.registrations IS 'Registrations waiting for their email link; deleted a week after they expire.';

CREATE TABLE IF NOT EXISTS portal.password_resets (
    reset_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      integer NOT NULL REFERENCES portal.accounts (account_id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL,
    client_ip       text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX IF NOT EXISTS password_resets_account_idx ON portal.password_resets (account_id);
COMMENT ON TABLE portal.password_resets IS 'Password reset links (hashed), single use, short-lived.';

-- Server-side sessions: the cookie holds a random id, this table its sha256. Logging out, changing or resetting
-- the password and closing the account revoke rows here, so a copied cookie stops working at once.
CREATE TABLE IF NOT EXISTS portal.sessions (
    session_hash    bytea PRIMARY KEY,
    account_id      integer NOT NULL REFERENCES portal.accounts (account_id) ON DELETE CASCADE,
    client_ip       text NOT NULL,
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX IF NOT EXISTS sessions_account_idx ON portal.sessions (account_id) WHERE revoked_at IS NULL;
COMMENT ON TABLE portal.sessions IS 'Portal sessions (id stored hashed): created, last seen, revoked; ended ones are deleted after a week.';

-- Every password check (login, confirming a registration, changing the password, closing the account), for
-- throttling per (account, address), per account and per address (security.throttle_delay). A check is recorded
-- as failed before the password is verified and marked succeeded afterwards, so parallel guesses all count.
CREATE TABLE IF NOT EXISTS portal.password_checks (
    check_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key     text NOT NULL,  -- role:email as typed, lower-cased; it need not belong to an account
    client_ip       text NOT NULL,
    device          text,           -- the device cookie's id when the browser showed a valid one for this account
    trusted         boolean NOT NULL,  -- a known device or address: not held back by the account and address limits
    purpose         text NOT NULL CHECK (purpose IN ('login', 'confirm', 'change', 'deactivate')),
    succeeded       boolean NOT NULL,
    checked_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS password_checks_account_idx ON portal.password_checks (account_key, checked_at);
CREATE INDEX IF NOT EXISTS password_checks_ip_idx ON portal.password_checks (client_ip, checked_at);
COMMENT ON TABLE portal.password_checks IS 'Password checks for throttling; successes kept 30 days (known addresses), failures a day.';
DROP TABLE IF EXISTS portal.login_attempts;  -- replaced by password_checks

-- Requests that are limited per client address or per email address (registrations, reset requests, emails sent).
CREATE TABLE IF NOT EXISTS portal.rate_events (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('register', 'reset', 'email')),
    key             text NOT NULL,  -- a client address, or a lower-cased email address for kind 'email'
    happened_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_key_idx ON portal.rate_events (kind, key, happened_at);
COMMENT ON TABLE portal.rate_events IS 'Registration and reset requests per client, emails per address: for the limits; kept a day.';
