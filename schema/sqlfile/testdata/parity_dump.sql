-- pg_dump --schema-only --no-owner --no-privileges of a database built from
-- parity.sql (PostgreSQL 15). Regenerate it when parity.sql changes.
--
-- PostgreSQL database dump
--

\restrict Xigmw7aHJyfotNNLjx0rxufxweowrwsLDMX4PDJPr7EmvNbeM5AuCfoq5CQeIcO

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: Other Schema; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA "Other Schema";


--
-- Name: billing; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA billing;


--
-- Name: new_schema; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA new_schema;


--
-- Name: reporting; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA reporting;


--
-- Name: citext; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;


--
-- Name: EXTENSION citext; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION citext IS 'data type for case-insensitive character strings';


--
-- Name: cents; Type: DOMAIN; Schema: billing; Owner: -
--

CREATE DOMAIN billing.cents AS bigint;


--
-- Name: invoice_status; Type: TYPE; Schema: billing; Owner: -
--

CREATE TYPE billing.invoice_status AS ENUM (
    'draft',
    'sent',
    'paid'
);


--
-- Name: moving_enum; Type: TYPE; Schema: billing; Owner: -
--

CREATE TYPE billing.moving_enum AS ENUM (
    'a',
    'b'
);


--
-- Name: kind; Type: TYPE; Schema: new_schema; Owner: -
--

CREATE TYPE new_schema.kind AS ENUM (
    'k'
);


--
-- Name: email; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.email AS public.citext NOT NULL;


--
-- Name: empty_enum; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.empty_enum AS ENUM (
);


--
-- Name: int_list; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.int_list AS integer[];


--
-- Name: label_text; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.label_text AS text;


--
-- Name: mood; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.mood AS ENUM (
    'sad',
    'meh',
    'fine',
    'happy',
    'ecstatic',
    'angry'
);


--
-- Name: mood_d; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.mood_d AS public.mood;


--
-- Name: point3; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.point3 AS (
	x double precision,
	y double precision,
	z double precision
);


--
-- Name: positive_int; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.positive_int AS integer
	CONSTRAINT positive_int_check CHECK ((VALUE > 0));


--
-- Name: positives; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.positives AS public.positive_int[];


--
-- Name: small_positive; Type: DOMAIN; Schema: public; Owner: -
--

CREATE DOMAIN public.small_positive AS public.positive_int NOT NULL
	CONSTRAINT small_positive_check CHECK (((VALUE)::integer < 100));


--
-- Name: touch(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: Mixed Case Table; Type: TABLE; Schema: Other Schema; Owner: -
--

CREATE TABLE "Other Schema"."Mixed Case Table" (
    "Id" integer NOT NULL,
    "Display Name" text
);


--
-- Name: invoices; Type: TABLE; Schema: billing; Owner: -
--

CREATE TABLE billing.invoices (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    status billing.invoice_status DEFAULT 'draft'::billing.invoice_status NOT NULL,
    amount billing.cents,
    amounts billing.cents[],
    kind billing.moving_enum
);


--
-- Name: invoices_id_seq; Type: SEQUENCE; Schema: billing; Owner: -
--

CREATE SEQUENCE billing.invoices_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: invoices_id_seq; Type: SEQUENCE OWNED BY; Schema: billing; Owner: -
--

ALTER SEQUENCE billing.invoices_id_seq OWNED BY billing.invoices.id;


--
-- Name: moving; Type: TABLE; Schema: billing; Owner: -
--

CREATE TABLE billing.moving (
    id uuid NOT NULL
);


--
-- Name: thing; Type: TABLE; Schema: new_schema; Owner: -
--

CREATE TABLE new_schema.thing (
    id integer NOT NULL,
    m public.mood
);


--
-- Name: CamelCase; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public."CamelCase" (
    "Id" integer NOT NULL,
    "Display Name" text,
    "select" text
);


--
-- Name: a_table_name_that_is_far_too_long_for_postgres_identifiers_to_k; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.a_table_name_that_is_far_too_long_for_postgres_identifiers_to_k (
    id integer NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id bigint NOT NULL,
    email public.email NOT NULL,
    name text DEFAULT 'anon'::text NOT NULL,
    handle character varying(40) NOT NULL,
    initials character(3),
    flag "char",
    mood public.mood DEFAULT 'fine'::public.mood,
    moods public.mood[],
    tags text[],
    scores integer[],
    matrix integer[],
    age public.small_positive,
    ages public.positive_int[],
    lucky public.int_list,
    lucky2 public.positives,
    feel public.mood_d,
    label public.label_text,
    active boolean DEFAULT true NOT NULL,
    active2 boolean,
    small numeric(12,3),
    medium integer,
    big bigint,
    i4 integer,
    price numeric(10,2),
    ratio numeric,
    f4 real,
    f8 double precision,
    fl double precision,
    fl4 real,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone,
    local_at timestamp without time zone,
    local_at2 timestamp(3) without time zone,
    birthday date,
    wake time without time zone,
    wake_tz time with time zone,
    wake_tz2 time with time zone,
    span interval,
    span2 interval day to second,
    token uuid,
    doc json,
    docb jsonb,
    raw bytea,
    ip inet,
    net cidr,
    mac macaddr,
    x xml,
    cash money,
    ref oid,
    search tsvector,
    during int4range,
    bits bit(8),
    vbits bit varying(16),
    nm name,
    pos point,
    p3 public.point3,
    temp_int bigint,
    deleted_at timestamp with time zone,
    CONSTRAINT users_age_check CHECK (((age)::integer > 1))
);
ALTER TABLE ONLY public.users ALTER COLUMN name SET STATISTICS 100;


--
-- Name: TABLE users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.users IS 'people; with a semicolon';


--
-- Name: active_users; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.active_users AS
 SELECT users.id,
    users.email
   FROM public.users
  WHERE users.active;


--
-- Name: base_t; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.base_t (
    id integer NOT NULL,
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);


--
-- Name: cache_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.cache_entries (
    k text NOT NULL,
    v bytea
);


--
-- Name: child_t; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.child_t (
    id integer,
    extra text
)
INHERITS (public.base_t);


--
-- Name: counters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counters (
    id integer NOT NULL,
    always_id bigint NOT NULL,
    later_id integer NOT NULL,
    was_identity integer NOT NULL,
    n integer,
    doubled integer GENERATED ALWAYS AS ((n * 2)) STORED,
    was_generated integer,
    s smallint NOT NULL,
    m integer NOT NULL
);


--
-- Name: counters_always_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.counters ALTER COLUMN always_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.counters_always_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: counters_copy; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counters_copy (
    id integer NOT NULL,
    always_id bigint NOT NULL,
    later_id integer NOT NULL,
    was_identity integer NOT NULL,
    n integer,
    doubled integer,
    was_generated integer,
    s smallint NOT NULL,
    m integer NOT NULL
);


--
-- Name: counters_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.counters ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.counters_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: counters_later_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.counters ALTER COLUMN later_id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.counters_later_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: counters_m_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.counters_m_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: counters_m_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.counters_m_seq OWNED BY public.counters.m;


--
-- Name: counters_s_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.counters_s_seq
    AS smallint
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: counters_s_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.counters_s_seq OWNED BY public.counters.s;


--
-- Name: empty_table; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.empty_table (
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
)
PARTITION BY RANGE (occurred_at);


--
-- Name: events_2024; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_2024 (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
);


--
-- Name: events_2025; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_2025 (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
);


--
-- Name: events_2026; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_2026 (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text NOT NULL,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
)
PARTITION BY RANGE (occurred_at);


--
-- Name: events_2026_h1; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_2026_h1 (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text NOT NULL,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
);


--
-- Name: events_default; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_default (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
);


--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: events_old; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events_old (
    id bigint NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    kind text,
    body jsonb,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED,
    source character varying(100)
);


--
-- Name: measurements; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.measurements (
    city integer NOT NULL,
    day date NOT NULL,
    v double precision
)
PARTITION BY LIST (city);


--
-- Name: measurements_1; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.measurements_1 (
    city integer NOT NULL,
    day date NOT NULL,
    v double precision
);


--
-- Name: memberships; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memberships (
    a integer NOT NULL,
    b integer NOT NULL,
    note text
);


--
-- Name: mixedunquoted; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.mixedunquoted (
    somecolumn integer
);


--
-- Name: new_name; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.new_name (
    id integer NOT NULL,
    v text
);


--
-- Name: no_pk_anymore; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.no_pk_anymore (
    id integer NOT NULL,
    v text
);


--
-- Name: pk_include; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pk_include (
    a integer,
    b integer NOT NULL,
    c text
);


--
-- Name: pk_renamed_index; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pk_renamed_index (
    id integer NOT NULL
);


--
-- Name: pk_via_index; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pk_via_index (
    a integer NOT NULL,
    b integer NOT NULL
);


--
-- Name: regions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.regions (
    code text NOT NULL,
    region text NOT NULL,
    name text
);


--
-- Name: ticket_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.ticket_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: user_counts; Type: MATERIALIZED VIEW; Schema: public; Owner: -
--

CREATE MATERIALIZED VIEW public.user_counts AS
 SELECT count(*) AS n
   FROM public.users
  WITH NO DATA;


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;


--
-- Name: users_archive; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users_archive (
    id bigint DEFAULT nextval('public.users_id_seq'::regclass) NOT NULL,
    email public.email NOT NULL,
    name text NOT NULL,
    handle character varying(40) NOT NULL,
    initials character(3),
    flag "char",
    mood public.mood DEFAULT 'fine'::public.mood,
    moods public.mood[],
    tags text[],
    scores integer[],
    matrix integer[],
    age public.small_positive,
    ages public.positive_int[],
    lucky public.int_list,
    lucky2 public.positives,
    feel public.mood_d,
    label public.label_text,
    active boolean DEFAULT true NOT NULL,
    active2 boolean,
    small numeric(12,3),
    medium integer,
    big bigint,
    i4 integer,
    price numeric(10,2),
    ratio numeric,
    f4 real,
    f8 double precision,
    fl double precision,
    fl4 real,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone,
    local_at timestamp without time zone,
    local_at2 timestamp(3) without time zone,
    birthday date,
    wake time without time zone,
    wake_tz time with time zone,
    wake_tz2 time with time zone,
    span interval,
    span2 interval day to second,
    token uuid,
    doc json,
    docb jsonb,
    raw bytea,
    ip inet,
    net cidr,
    mac macaddr,
    x xml,
    cash money,
    ref oid,
    search tsvector,
    during int4range,
    bits bit(8),
    vbits bit varying(16),
    nm name,
    pos point,
    p3 public.point3,
    temp_int bigint,
    deleted_at timestamp with time zone
);


--
-- Name: with space; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public."with space" (
    "select" integer NOT NULL,
    "from" text
);


--
-- Name: daily; Type: TABLE; Schema: reporting; Owner: -
--

CREATE TABLE reporting.daily (
    day date NOT NULL,
    total numeric
);


--
-- Name: events_2024; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2024 FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');


--
-- Name: events_2025; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2025 FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');


--
-- Name: events_2026; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2026 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');


--
-- Name: events_2026_h1; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_2026 ATTACH PARTITION public.events_2026_h1 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-07-01 00:00:00+00');


--
-- Name: events_default; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ATTACH PARTITION public.events_default DEFAULT;


--
-- Name: measurements_1; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.measurements ATTACH PARTITION public.measurements_1 FOR VALUES IN (1);


--
-- Name: invoices id; Type: DEFAULT; Schema: billing; Owner: -
--

ALTER TABLE ONLY billing.invoices ALTER COLUMN id SET DEFAULT nextval('billing.invoices_id_seq'::regclass);


--
-- Name: counters s; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counters ALTER COLUMN s SET DEFAULT nextval('public.counters_s_seq'::regclass);


--
-- Name: counters m; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counters ALTER COLUMN m SET DEFAULT nextval('public.counters_m_seq'::regclass);


--
-- Name: users id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);


--
-- Name: Mixed Case Table Mixed Case Table_pkey; Type: CONSTRAINT; Schema: Other Schema; Owner: -
--

ALTER TABLE ONLY "Other Schema"."Mixed Case Table"
    ADD CONSTRAINT "Mixed Case Table_pkey" PRIMARY KEY ("Id");


--
-- Name: invoices invoices_pkey; Type: CONSTRAINT; Schema: billing; Owner: -
--

ALTER TABLE ONLY billing.invoices
    ADD CONSTRAINT invoices_pkey PRIMARY KEY (id);


--
-- Name: moving moving_pkey; Type: CONSTRAINT; Schema: billing; Owner: -
--

ALTER TABLE ONLY billing.moving
    ADD CONSTRAINT moving_pkey PRIMARY KEY (id);


--
-- Name: thing thing_pkey; Type: CONSTRAINT; Schema: new_schema; Owner: -
--

ALTER TABLE ONLY new_schema.thing
    ADD CONSTRAINT thing_pkey PRIMARY KEY (id);


--
-- Name: CamelCase CamelCase_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public."CamelCase"
    ADD CONSTRAINT "CamelCase_pkey" PRIMARY KEY ("Id");


--
-- Name: a_table_name_that_is_far_too_long_for_postgres_identifiers_to_k a_table_name_that_is_far_too_long_for_postgres_identifiers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.a_table_name_that_is_far_too_long_for_postgres_identifiers_to_k
    ADD CONSTRAINT a_table_name_that_is_far_too_long_for_postgres_identifiers_pkey PRIMARY KEY (id);


--
-- Name: cache_entries cache_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cache_entries
    ADD CONSTRAINT cache_entries_pkey PRIMARY KEY (k);


--
-- Name: counters counters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counters
    ADD CONSTRAINT counters_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_2024 events_2024_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_2024
    ADD CONSTRAINT events_2024_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_2025 events_2025_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_2025
    ADD CONSTRAINT events_2025_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_2026 events_2026_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_2026
    ADD CONSTRAINT events_2026_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_2026_h1 events_2026_h1_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_2026_h1
    ADD CONSTRAINT events_2026_h1_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_default events_default_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_default
    ADD CONSTRAINT events_default_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: events_old events_old_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events_old
    ADD CONSTRAINT events_old_pkey PRIMARY KEY (id, occurred_at);


--
-- Name: measurements measurements_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.measurements
    ADD CONSTRAINT measurements_pkey PRIMARY KEY (day, city);


--
-- Name: measurements_1 measurements_1_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.measurements_1
    ADD CONSTRAINT measurements_1_pkey PRIMARY KEY (day, city);


--
-- Name: memberships memberships_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT memberships_pkey PRIMARY KEY (b, a);


--
-- Name: new_name old_name_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.new_name
    ADD CONSTRAINT old_name_pkey PRIMARY KEY (id);


--
-- Name: pk_include pk_include_pk; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pk_include
    ADD CONSTRAINT pk_include_pk PRIMARY KEY (b) INCLUDE (a);


--
-- Name: pk_via_index pk_via_index_pk; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pk_via_index
    ADD CONSTRAINT pk_via_index_pk PRIMARY KEY (b, a);


--
-- Name: regions regions_primary; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.regions
    ADD CONSTRAINT regions_primary PRIMARY KEY (region, code);


--
-- Name: users_archive users_archive_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users_archive
    ADD CONSTRAINT users_archive_pkey PRIMARY KEY (id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: with space with space_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public."with space"
    ADD CONSTRAINT "with space_pkey" PRIMARY KEY ("select");


--
-- Name: daily daily_pkey; Type: CONSTRAINT; Schema: reporting; Owner: -
--

ALTER TABLE ONLY reporting.daily
    ADD CONSTRAINT daily_pkey PRIMARY KEY (day);


--
-- Name: users_email_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_email_idx ON public.users USING btree (email);


--
-- Name: users_token_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_token_idx ON public.users USING btree (token) WHERE (token IS NOT NULL);


--
-- Name: events_2024_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_pkey ATTACH PARTITION public.events_2024_pkey;


--
-- Name: events_2025_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_pkey ATTACH PARTITION public.events_2025_pkey;


--
-- Name: events_2026_h1_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_2026_pkey ATTACH PARTITION public.events_2026_h1_pkey;


--
-- Name: events_2026_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_pkey ATTACH PARTITION public.events_2026_pkey;


--
-- Name: events_default_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.events_pkey ATTACH PARTITION public.events_default_pkey;


--
-- Name: measurements_1_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.measurements_pkey ATTACH PARTITION public.measurements_1_pkey;


--
-- Name: users users_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();


--
-- Name: invoices invoices_user_fk; Type: FK CONSTRAINT; Schema: billing; Owner: -
--

ALTER TABLE ONLY billing.invoices
    ADD CONSTRAINT invoices_user_fk FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- PostgreSQL database dump complete
--

\unrestrict Xigmw7aHJyfotNNLjx0rxufxweowrwsLDMX4PDJPr7EmvNbeM5AuCfoq5CQeIcO

