-- +goose Up
-- The application's own schema. Threadline reads it offline (schema.files
-- in threadline.yaml) to generate its capture migrations beside it.
CREATE TYPE post_status AS ENUM ('draft', 'published', 'archived');

CREATE DOMAIN email_address AS text CHECK (VALUE ~ '@');

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email email_address NOT NULL UNIQUE,
    password_hash text NOT NULL,
    display_name text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE posts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id bigint NOT NULL REFERENCES users (id),
    title text NOT NULL,
    body text,
    status post_status NOT NULL DEFAULT 'draft',
    tags text[] NOT NULL DEFAULT '{}',
    word_count integer GENERATED ALWAYS AS (coalesce(array_length(regexp_split_to_array(body, '\s+'), 1), 0)) STORED,
    published_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A join table with a composite primary key.
CREATE TABLE post_collaborators (
    post_id uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id),
    role text NOT NULL DEFAULT 'editor',
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

-- A key that is not called id.
CREATE TABLE countries (
    code char(2) PRIMARY KEY,
    name text NOT NULL
);

-- A partitioned table: Threadline audits the parent and captures writes to
-- every partition, including partitions created later.
CREATE TABLE page_views (
    id bigint GENERATED ALWAYS AS IDENTITY,
    viewed_at timestamptz NOT NULL,
    post_id uuid NOT NULL,
    viewer_id bigint,
    PRIMARY KEY (id, viewed_at)
) PARTITION BY RANGE (viewed_at);

CREATE TABLE page_views_2026 PARTITION OF page_views
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

CREATE TABLE page_views_2027 PARTITION OF page_views
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');

-- No primary key: threadline.yaml names the key columns.
CREATE TABLE legacy_events (
    event_uuid uuid NOT NULL UNIQUE,
    kind text NOT NULL,
    payload jsonb,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE SCHEMA billing;

CREATE TABLE billing.invoices (
    number text PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES users (id),
    amount numeric(12, 2) NOT NULL,
    currency char(3) NOT NULL,
    issued_on date NOT NULL,
    paid boolean NOT NULL DEFAULT false,
    card_last4 text
);

-- +goose Down
DROP TABLE billing.invoices;
DROP SCHEMA billing;
DROP TABLE legacy_events;
DROP TABLE page_views;
DROP TABLE countries;
DROP TABLE post_collaborators;
DROP TABLE posts;
DROP TABLE users;
DROP DOMAIN email_address;
DROP TYPE post_status;
