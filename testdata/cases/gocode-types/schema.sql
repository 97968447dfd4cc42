-- Every PostgreSQL type the Go mapping supports, NOT NULL and nullable,
-- plus arrays, enums, domains and two unsupported types.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'in-between');

CREATE SCHEMA inventory;

CREATE TYPE inventory.item_state AS ENUM ('new', 'used', 'broken');

CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);

CREATE DOMAIN required_text AS text NOT NULL;

-- A composite type: not supported, so its column is json.RawMessage.
CREATE TYPE price AS (amount numeric, currency text);

CREATE TABLE all_types (
    id bigint PRIMARY KEY,
    c_bool boolean NOT NULL,
    c_int2 smallint NOT NULL,
    c_int4 integer NOT NULL,
    c_int8 bigint NOT NULL,
    c_serial serial,
    c_oid oid NOT NULL,
    c_float4 real NOT NULL,
    c_float8 double precision NOT NULL,
    c_numeric numeric(12, 2) NOT NULL,
    c_money money NOT NULL,
    c_text text NOT NULL,
    c_varchar varchar(20) NOT NULL,
    c_bpchar char(3) NOT NULL,
    c_char "char" NOT NULL,
    c_name name NOT NULL,
    c_citext citext NOT NULL,
    c_uuid uuid NOT NULL,
    c_json json NOT NULL,
    c_jsonb jsonb NOT NULL,
    c_bytea bytea NOT NULL,
    c_timestamptz timestamptz NOT NULL,
    c_timestamp timestamp NOT NULL,
    c_date date NOT NULL,
    c_time time NOT NULL,
    c_timetz timetz NOT NULL,
    c_interval interval NOT NULL,
    c_inet inet NOT NULL,
    c_cidr cidr NOT NULL,
    c_macaddr macaddr NOT NULL,
    c_macaddr8 macaddr8 NOT NULL,
    c_bit bit(3) NOT NULL,
    c_varbit varbit NOT NULL,
    c_xml xml NOT NULL,
    c_tsvector tsvector NOT NULL,
    c_point point NOT NULL,
    c_int4range int4range NOT NULL,
    c_tstzrange tstzrange NOT NULL,
    c_mood mood NOT NULL,
    c_state inventory.item_state NOT NULL,
    c_positive positive_int NOT NULL,
    c_required required_text,
    n_bool boolean,
    n_int2 smallint,
    n_int4 integer,
    n_int8 bigint,
    n_float8 double precision,
    n_numeric numeric,
    n_text text,
    n_uuid uuid,
    n_json json,
    n_jsonb jsonb,
    n_bytea bytea,
    n_timestamptz timestamptz,
    n_timestamp timestamp,
    n_date date,
    n_time time,
    n_interval interval,
    n_inet inet,
    n_mood mood,
    n_positive positive_int,
    a_int4 integer[] NOT NULL,
    a_int8 bigint[],
    a_text text[] NOT NULL,
    a_uuid uuid[],
    a_numeric numeric[],
    a_bool boolean[],
    a_jsonb jsonb[],
    a_bytea bytea[],
    a_timestamptz timestamptz[],
    a_date date[],
    a_mood mood[],
    g_doubled bigint GENERATED ALWAYS AS (c_int8 * 2) STORED,
    u_price price,
    u_snapshot txid_snapshot,
    u_prices price[],
    secret_text text,
    secret_json jsonb,
    secret_int integer NOT NULL DEFAULT 0,
    dropped_blob bytea
);

-- A composite key over several value types.
CREATE TABLE bookings (
    room text NOT NULL,
    day date NOT NULL,
    slot timestamptz NOT NULL,
    seq numeric NOT NULL,
    guest uuid,
    PRIMARY KEY (room, day, slot, seq)
);

-- A table outside public, keyed by a configured key.
CREATE TABLE inventory.items (
    serial_number text UNIQUE,
    state inventory.item_state NOT NULL,
    ordered_at timestamp NOT NULL,
    weight numeric
);
