CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    password_hash text,
    updated_at timestamptz
);
CREATE TABLE documents (
    id uuid PRIMARY KEY,
    body text
);
CREATE TABLE events (
    id bigint NOT NULL,
    at timestamptz NOT NULL,
    payload jsonb,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
