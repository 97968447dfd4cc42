-- Real-world fixture for Threadline: the schema of a multi-tenant B2B SaaS
-- (an order-management and back-office platform sold to businesses).
--
-- Written for Threadline's tests; it exercises what production schemas do:
-- several schemas, keys that are not "id" (text codes, slugs, ISO codes,
-- uuids, domain-typed keys, char(n) + text composites, enum and timestamptz
-- key columns), identity/serial columns, enums, nested domains, arrays of
-- enums and of domains, ranges, generated columns, range and list
-- partitioning, tables without a primary key, quoted mixed-case names and
-- reserved-word column names. Plain PostgreSQL 13+ DDL, no extensions.

CREATE SCHEMA billing;
CREATE SCHEMA catalog;
CREATE SCHEMA support;
CREATE SCHEMA hr;
CREATE SCHEMA analytics;

-- ---------------------------------------------------------------------------
-- Types and domains
-- ---------------------------------------------------------------------------

CREATE TYPE plan_tier AS ENUM ('free', 'team', 'business', 'enterprise');
CREATE TYPE member_status AS ENUM ('invited', 'active', 'suspended');
CREATE TYPE notification_channel AS ENUM ('email', 'sms', 'push', 'in_app', 'webhook');
CREATE TYPE publish_status AS ENUM ('draft', 'review', 'published', 'archived');
CREATE TYPE job_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded');
CREATE TYPE shipment_status AS ENUM ('label_created', 'in_transit', 'delivered', 'exception', 'returned');
CREATE TYPE address_kind AS ENUM ('billing', 'shipping');
CREATE TYPE mfa_kind AS ENUM ('totp', 'webauthn', 'sms');
CREATE TYPE integration_provider AS ENUM ('crm', 'chat', 'scm', 'helpdesk', 'erp');
CREATE TYPE movement_reason AS ENUM ('receipt', 'sale', 'return', 'adjustment', 'transfer');
CREATE TYPE sso_protocol AS ENUM ('saml', 'oidc');

CREATE TYPE billing.invoice_status AS ENUM ('draft', 'open', 'paid', 'void', 'uncollectible');
CREATE TYPE billing.payment_status AS ENUM ('pending', 'succeeded', 'failed', 'refunded');
CREATE TYPE billing.subscription_status AS ENUM ('trialing', 'active', 'past_due', 'canceled', 'paused');
CREATE TYPE billing.billing_interval AS ENUM ('month', 'year');
CREATE TYPE billing.coupon_duration AS ENUM ('once', 'repeating', 'forever');
CREATE TYPE billing.account_kind AS ENUM ('asset', 'liability', 'revenue', 'expense', 'equity');
CREATE TYPE billing.payment_method_kind AS ENUM ('card', 'sepa_debit', 'ach', 'wire');

CREATE TYPE catalog.product_status AS ENUM ('draft', 'active', 'discontinued');
CREATE TYPE catalog.attribute_type AS ENUM ('text', 'number', 'boolean', 'choice');
CREATE TYPE catalog.relation_kind AS ENUM ('upsell', 'cross_sell', 'accessory', 'replacement');

CREATE TYPE support.ticket_status AS ENUM ('new', 'open', 'pending', 'on_hold', 'solved', 'closed');
CREATE TYPE support.ticket_priority AS ENUM ('low', 'normal', 'high', 'urgent');
CREATE TYPE support.message_via AS ENUM ('email', 'web', 'chat', 'phone', 'api');

CREATE TYPE hr.employment_type AS ENUM ('full_time', 'part_time', 'contractor', 'intern');
CREATE TYPE hr.coverage_level AS ENUM ('employee', 'employee_spouse', 'family');

CREATE TYPE analytics.region AS ENUM ('eu', 'us', 'apac');
CREATE TYPE analytics.aggregation AS ENUM ('sum', 'avg', 'min', 'max', 'count', 'p95');

CREATE DOMAIN email AS text
    CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$');
-- A domain over a domain: a work address is an email that is not a
-- consumer mailbox.
CREATE DOMAIN work_email AS email
    CHECK (VALUE !~* '@(gmail|yahoo|hotmail|outlook)\.com$');
CREATE DOMAIN slug AS text NOT NULL
    CHECK (VALUE ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(VALUE) <= 80);
CREATE DOMAIN country_code AS char(2) CHECK (VALUE ~ '^[A-Z]{2}$');
CREATE DOMAIN currency_code AS char(3) CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE DOMAIN percentage AS numeric(5, 2) CHECK (VALUE >= 0 AND VALUE <= 100);
CREATE DOMAIN tag_list AS text[] CHECK (cardinality(VALUE) <= 32);
CREATE DOMAIN hex_color AS text CHECK (VALUE ~ '^#[0-9a-f]{6}$');
CREATE DOMAIN billing.positive_money AS numeric(12, 2) CHECK (VALUE > 0);
CREATE DOMAIN billing.unit_price AS billing.positive_money CHECK (VALUE < 1000000);
CREATE DOMAIN hr.employee_number AS text CHECK (VALUE ~ '^E[0-9]{5}$');

-- ---------------------------------------------------------------------------
-- public: identity, organizations, access
-- ---------------------------------------------------------------------------

CREATE TABLE organizations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug slug UNIQUE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan plan_tier NOT NULL DEFAULT 'free',
    billing_country country_code,
    settings jsonb NOT NULL DEFAULT '{}',
    seat_limit integer CHECK (seat_limit > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_domains (
    domain text PRIMARY KEY CHECK (domain = lower(domain)),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    verification_token text NOT NULL,
    verified_at timestamptz
);

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email email NOT NULL UNIQUE,
    password_hash text,
    display_name text NOT NULL,
    locale text NOT NULL DEFAULT 'en',
    time_zone text,
    notify_via notification_channel[] NOT NULL DEFAULT '{email}',
    is_active boolean NOT NULL DEFAULT true,
    last_login_at timestamptz,
    last_login_ip inet,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_profiles (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio text,
    avatar bytea,
    birthday date,
    website text,
    preferences json
);

CREATE TABLE user_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token text NOT NULL,
    ip inet,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE password_resets (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    requested_ip inet,
    requested_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz
);

CREATE TABLE mfa_factors (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind mfa_kind NOT NULL,
    secret bytea NOT NULL,
    label text,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE recovery_codes (
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    code_hash text,
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE roles (
    code text PRIMARY KEY CHECK (code ~ '^[a-z_]+$'),
    name text NOT NULL,
    description text,
    is_system boolean NOT NULL DEFAULT false
);

CREATE TABLE permissions (
    code text PRIMARY KEY,
    description text,
    category text NOT NULL
);

CREATE TABLE role_permissions (
    role_code text REFERENCES roles (code) ON DELETE CASCADE,
    permission_code text REFERENCES permissions (code) ON DELETE CASCADE,
    PRIMARY KEY (role_code, permission_code)
);

CREATE TABLE memberships (
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    status member_status NOT NULL DEFAULT 'active',
    invited_by uuid,
    joined_at timestamptz,
    PRIMARY KEY (organization_id, user_id)
);

CREATE TABLE membership_roles (
    organization_id bigint,
    user_id uuid,
    role_code text REFERENCES roles (code) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, user_id, role_code),
    FOREIGN KEY (organization_id, user_id) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);

CREATE TABLE teams (
    id serial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug slug,
    name text NOT NULL,
    description text,
    UNIQUE (organization_id, slug)
);

CREATE TABLE team_members (
    team_id integer REFERENCES teams (id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    "role" text NOT NULL DEFAULT 'member' CHECK ("role" IN ('member', 'lead')),
    added_at timestamptz DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE invitations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email email NOT NULL,
    role_code text NOT NULL REFERENCES roles (code),
    token_hash text NOT NULL,
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz
);

CREATE TABLE api_keys (
    prefix char(8) PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    secret_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    last_used_ip inet,
    expires_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE api_key_usage_daily (
    key_prefix char(8) REFERENCES api_keys (prefix) ON DELETE CASCADE,
    day date,
    request_count bigint NOT NULL DEFAULT 0,
    error_count bigint NOT NULL DEFAULT 0,
    p95_latency interval,
    PRIMARY KEY (key_prefix, day)
);

CREATE TABLE oauth_clients (
    client_id text PRIMARY KEY,
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    client_secret_hash text NOT NULL,
    redirect_uris text[] NOT NULL,
    grant_types text[] NOT NULL DEFAULT '{authorization_code}',
    is_confidential boolean NOT NULL DEFAULT true
);

CREATE TABLE oauth_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    access_token_hash text NOT NULL UNIQUE,
    refresh_token text,
    scopes text[],
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE sso_connections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    protocol sso_protocol NOT NULL,
    idp_entity_id text,
    metadata text,
    certificate bytea,
    client_secret text,
    enabled boolean NOT NULL DEFAULT false
);

CREATE TABLE ip_allowlist (
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    network cidr,
    note text,
    added_by uuid,
    PRIMARY KEY (organization_id, network)
);

CREATE TABLE feature_flags (
    key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]*$'),
    description text,
    enabled boolean NOT NULL DEFAULT false,
    rollout_percent smallint NOT NULL DEFAULT 0 CHECK (rollout_percent BETWEEN 0 AND 100),
    rules jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feature_flag_overrides (
    flag_key text REFERENCES feature_flags (key) ON DELETE CASCADE ON UPDATE CASCADE,
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    enabled boolean NOT NULL,
    reason text,
    PRIMARY KEY (flag_key, organization_id)
);

-- ---------------------------------------------------------------------------
-- public: reference data, settings, content, messaging
-- ---------------------------------------------------------------------------

CREATE TABLE countries (
    iso_code country_code PRIMARY KEY,
    iso3 char(3) NOT NULL UNIQUE,
    name text NOT NULL,
    calling_code text,
    eu_member boolean NOT NULL DEFAULT false
);

CREATE TABLE currencies (
    code currency_code PRIMARY KEY,
    name text NOT NULL,
    minor_units smallint NOT NULL DEFAULT 2 CHECK (minor_units BETWEEN 0 AND 4),
    symbol text
);

CREATE TABLE exchange_rates (
    base currency_code REFERENCES currencies (code),
    quote currency_code REFERENCES currencies (code),
    rate_date date,
    rate numeric(18, 8) NOT NULL CHECK (rate > 0),
    source text,
    PRIMARY KEY (base, quote, rate_date),
    CHECK (base <> quote)
);

CREATE TABLE addresses (
    id bigserial PRIMARY KEY,
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    line1 text NOT NULL,
    line2 text,
    city text NOT NULL,
    region text,
    postal_code text,
    country country_code NOT NULL REFERENCES countries (iso_code),
    latitude numeric(9, 6) CHECK (latitude BETWEEN -90 AND 90),
    longitude numeric(9, 6) CHECK (longitude BETWEEN -180 AND 180)
);

CREATE TABLE org_settings (
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    key text,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);

CREATE TABLE notification_templates (
    code text PRIMARY KEY,
    channels notification_channel[] NOT NULL,
    subject text,
    body text NOT NULL,
    variables text[] NOT NULL DEFAULT '{}',
    locale text NOT NULL DEFAULT 'en'
);

CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_code text REFERENCES notification_templates (code),
    channel notification_channel NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    delivered boolean NOT NULL DEFAULT false
);

CREATE TABLE notification_preferences (
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    channel notification_channel,
    category text,
    enabled boolean NOT NULL DEFAULT true,
    PRIMARY KEY (user_id, channel, category)
);

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url text NOT NULL CHECK (url ~ '^https://'),
    signing_secret text NOT NULL,
    event_types text[] NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    attempt smallint NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    response_status smallint,
    response_body text,
    duration interval,
    delivered_at timestamptz
);

CREATE TABLE cms_pages (
    slug slug PRIMARY KEY,
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    title text NOT NULL,
    body text,
    status publish_status NOT NULL DEFAULT 'draft',
    published_at timestamptz,
    "createdBy" uuid REFERENCES users (id) ON DELETE SET NULL,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(body, ''))) STORED,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cms_page_revisions (
    page_slug slug REFERENCES cms_pages (slug) ON DELETE CASCADE ON UPDATE CASCADE,
    revision integer,
    body text,
    edited_by uuid,
    edited_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_slug, revision)
);

CREATE TABLE cms_blocks (
    id serial PRIMARY KEY,
    page_slug slug REFERENCES cms_pages (slug) ON DELETE CASCADE,
    "order" integer NOT NULL,
    kind text NOT NULL,
    content jsonb NOT NULL DEFAULT '{}',
    UNIQUE (page_slug, "order")
);

CREATE TABLE tags (
    id serial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    color hex_color,
    UNIQUE (organization_id, name)
);

CREATE TABLE taggings (
    tag_id integer REFERENCES tags (id) ON DELETE CASCADE,
    taggable_type text,
    taggable_id text,
    tagged_at timestamptz DEFAULT now(),
    PRIMARY KEY (tag_id, taggable_type, taggable_id)
);

CREATE TABLE "LegacyImports" (
    "ImportId" integer PRIMARY KEY,
    "SourceSystem" text NOT NULL,
    "RawPayload" jsonb,
    "importedAt" timestamp NOT NULL DEFAULT localtimestamp,
    "createdBy" text
);

-- Kept from the previous system: no primary key, but legacy ids are unique.
CREATE TABLE legacy_user_map (
    legacy_user_id text NOT NULL UNIQUE,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    migrated_at timestamp,
    notes text
);

CREATE TABLE import_jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    kind text NOT NULL,
    status job_status NOT NULL DEFAULT 'queued',
    "order" integer NOT NULL DEFAULT 0,
    source_file text,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    stats jsonb,
    CHECK (finished_at IS NULL OR started_at IS NOT NULL)
);

CREATE TABLE export_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    requested_by uuid,
    format text NOT NULL CHECK (format IN ('csv', 'json', 'parquet')),
    filters jsonb,
    status job_status NOT NULL DEFAULT 'queued',
    file_key text,
    expires_at timestamptz
);

CREATE TABLE scheduled_jobs (
    name text PRIMARY KEY,
    cron text NOT NULL,
    payload jsonb,
    enabled boolean NOT NULL DEFAULT true,
    last_run_at timestamptz,
    next_run_at timestamptz
);

CREATE TABLE job_runs (
    job_name text REFERENCES scheduled_jobs (name) ON DELETE CASCADE,
    started_at timestamptz,
    finished_at timestamptz,
    status job_status NOT NULL,
    duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED,
    output text,
    PRIMARY KEY (job_name, started_at)
);

CREATE TABLE activity_feed (
    id bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "user" uuid REFERENCES users (id) ON DELETE SET NULL,
    verb text NOT NULL,
    object_type text,
    object_id text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb
);

CREATE TABLE integrations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider integration_provider NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    access_token text,
    refresh_token text,
    connected_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, provider)
);

CREATE TABLE email_outbox (
    id bigserial PRIMARY KEY,
    to_address email NOT NULL,
    subject text NOT NULL,
    body_html text,
    body_text text,
    status text NOT NULL DEFAULT 'queued',
    attempts smallint NOT NULL DEFAULT 0,
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- No primary key: one row per suppressed address.
CREATE TABLE email_suppressions (
    address email NOT NULL UNIQUE,
    reason text NOT NULL,
    bounced_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE announcements (
    id serial PRIMARY KEY,
    title text NOT NULL,
    body text,
    audience tag_list,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    CHECK (ends_at IS NULL OR ends_at > starts_at)
);

-- ---------------------------------------------------------------------------
-- public: orders, inventory, shipping
-- ---------------------------------------------------------------------------

CREATE TABLE orders (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    order_number text NOT NULL UNIQUE CHECK (order_number ~ '^SO-[0-9]{6,}$'),
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    customer_id bigint,
    status order_status NOT NULL DEFAULT 'pending',
    currency currency_code NOT NULL,
    subtotal numeric(12, 2) NOT NULL DEFAULT 0,
    shipping_total numeric(12, 2) NOT NULL DEFAULT 0,
    tax_total numeric(12, 2) NOT NULL DEFAULT 0,
    grand_total numeric(12, 2) GENERATED ALWAYS AS (subtotal + shipping_total + tax_total) STORED,
    placed_at timestamptz,
    notes text,
    metadata jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_items (
    order_id bigint REFERENCES orders (id) ON DELETE CASCADE,
    line_no smallint,
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(12, 2) NOT NULL,
    discount numeric(12, 2) NOT NULL DEFAULT 0,
    line_total numeric(12, 2) GENERATED ALWAYS AS (quantity * unit_price - discount) STORED,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_addresses (
    order_id bigint REFERENCES orders (id) ON DELETE CASCADE,
    kind address_kind,
    recipient text NOT NULL,
    line1 text NOT NULL,
    line2 text,
    city text NOT NULL,
    postal_code text,
    country country_code NOT NULL,
    phone text,
    PRIMARY KEY (order_id, kind)
);

CREATE TABLE order_status_history (
    order_id bigint REFERENCES orders (id) ON DELETE CASCADE,
    changed_at timestamptz,
    from_status order_status,
    to_status order_status NOT NULL,
    changed_by uuid,
    note text,
    PRIMARY KEY (order_id, changed_at)
);

CREATE TABLE returns (
    rma_number text PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'requested',
    requested_at timestamptz NOT NULL DEFAULT now(),
    received_at timestamptz,
    refund_amount numeric(12, 2)
);

CREATE TABLE warehouses (
    code char(4) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}[0-9]{2}$'),
    name text NOT NULL,
    address_id bigint REFERENCES addresses (id),
    time_zone text NOT NULL DEFAULT 'UTC',
    is_active boolean NOT NULL DEFAULT true
);

CREATE TABLE inventory_levels (
    warehouse_code char(4) REFERENCES warehouses (code) ON DELETE CASCADE,
    sku text,
    on_hand integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    reorder_point integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_code, sku),
    CHECK (reserved <= on_hand)
);

CREATE TABLE inventory_movements (
    id bigserial PRIMARY KEY,
    warehouse_code char(4) NOT NULL REFERENCES warehouses (code),
    sku text NOT NULL,
    delta integer NOT NULL CHECK (delta <> 0),
    reason movement_reason NOT NULL,
    reference text,
    moved_at timestamptz NOT NULL DEFAULT now(),
    moved_by uuid
);

CREATE TABLE stock_reservations (
    warehouse_code char(4),
    sku text,
    order_id bigint REFERENCES orders (id) ON DELETE CASCADE,
    quantity integer NOT NULL CHECK (quantity > 0),
    expires_at timestamptz,
    PRIMARY KEY (warehouse_code, sku, order_id),
    FOREIGN KEY (warehouse_code, sku) REFERENCES inventory_levels (warehouse_code, sku) ON DELETE CASCADE
);

CREATE TABLE carriers (
    code text PRIMARY KEY,
    name text NOT NULL,
    tracking_url_template text,
    api_credentials jsonb
);

CREATE TABLE shipping_methods (
    code text PRIMARY KEY,
    carrier_code text NOT NULL REFERENCES carriers (code),
    name text NOT NULL,
    service_level text,
    base_rate numeric(10, 2) NOT NULL DEFAULT 0,
    transit_days int4range
);

CREATE TABLE shipping_zones (
    id serial PRIMARY KEY,
    name text NOT NULL,
    countries country_code[] NOT NULL
);

CREATE TABLE shipping_rates (
    zone_id integer REFERENCES shipping_zones (id) ON DELETE CASCADE,
    method_code text REFERENCES shipping_methods (code) ON DELETE CASCADE,
    min_weight_grams integer,
    rate numeric(10, 2) NOT NULL,
    PRIMARY KEY (zone_id, method_code, min_weight_grams)
);

CREATE TABLE shipments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    warehouse_code char(4) REFERENCES warehouses (code),
    carrier_code text REFERENCES carriers (code),
    tracking_number text UNIQUE,
    status shipment_status NOT NULL DEFAULT 'label_created',
    weight_grams integer,
    label_pdf bytea,
    shipped_at timestamptz,
    delivered_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipment_events (
    shipment_id uuid REFERENCES shipments (id) ON DELETE CASCADE,
    occurred_at timestamptz,
    status shipment_status NOT NULL,
    location text,
    raw jsonb,
    PRIMARY KEY (shipment_id, occurred_at)
);

CREATE TABLE packages (
    shipment_id uuid REFERENCES shipments (id) ON DELETE CASCADE,
    package_no smallint,
    dimensions_mm integer[] NOT NULL CHECK (cardinality(dimensions_mm) = 3),
    weight_grams integer NOT NULL,
    PRIMARY KEY (shipment_id, package_no)
);

-- ---------------------------------------------------------------------------
-- billing
-- ---------------------------------------------------------------------------

CREATE TABLE billing.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL UNIQUE,
    billing_email email NOT NULL,
    legal_name text NOT NULL,
    tax_id text,
    currency currency_code NOT NULL DEFAULT 'USD',
    balance numeric(12, 2) NOT NULL DEFAULT 0,
    address_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.payment_methods (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id bigint NOT NULL REFERENCES billing.customers (id) ON DELETE CASCADE,
    kind billing.payment_method_kind NOT NULL,
    card_number text,
    card_brand text,
    card_last4 char(4),
    exp_month smallint CHECK (exp_month BETWEEN 1 AND 12),
    exp_year smallint CHECK (exp_year >= 2000),
    iban text,
    fingerprint text,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.plans (
    code text PRIMARY KEY,
    name text NOT NULL,
    billing_interval billing.billing_interval NOT NULL,
    amount billing.unit_price NOT NULL,
    currency currency_code NOT NULL,
    trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    features text[] NOT NULL DEFAULT '{}',
    active boolean NOT NULL DEFAULT true
);

CREATE TABLE billing.plan_features (
    plan_code text REFERENCES billing.plans (code) ON DELETE CASCADE,
    feature_key text REFERENCES public.feature_flags (key) ON DELETE CASCADE,
    limit_value integer,
    PRIMARY KEY (plan_code, feature_key)
);

CREATE TABLE billing.subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id bigint NOT NULL REFERENCES billing.customers (id) ON DELETE CASCADE,
    plan_code text NOT NULL REFERENCES billing.plans (code),
    status billing.subscription_status NOT NULL DEFAULT 'trialing',
    quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    current_period daterange,
    trial_ends_at timestamptz,
    cancel_at timestamptz,
    canceled_at timestamptz,
    metadata jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.subscription_items (
    subscription_id uuid REFERENCES billing.subscriptions (id) ON DELETE CASCADE,
    line_no smallint,
    price_id bigint NOT NULL,
    quantity integer NOT NULL DEFAULT 1,
    PRIMARY KEY (subscription_id, line_no)
);

CREATE TABLE billing.subscription_events (
    id bigserial PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES billing.subscriptions (id) ON DELETE CASCADE,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.coupons (
    code text PRIMARY KEY,
    name text,
    percent_off percentage,
    amount_off billing.positive_money,
    currency currency_code,
    duration billing.coupon_duration NOT NULL,
    duration_months smallint,
    max_redemptions integer,
    redeem_by timestamptz,
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
    CHECK (amount_off IS NULL OR currency IS NOT NULL)
);

CREATE TABLE billing.coupon_redemptions (
    coupon_code text REFERENCES billing.coupons (code) ON DELETE CASCADE,
    customer_id bigint REFERENCES billing.customers (id) ON DELETE CASCADE,
    redeemed_at timestamptz NOT NULL DEFAULT now(),
    invoice_number text,
    PRIMARY KEY (coupon_code, customer_id)
);

CREATE TABLE billing.invoices (
    number text PRIMARY KEY CHECK (number ~ '^INV-[0-9]{6,}$'),
    customer_id bigint NOT NULL REFERENCES billing.customers (id),
    subscription_id uuid REFERENCES billing.subscriptions (id) ON DELETE SET NULL,
    status billing.invoice_status NOT NULL DEFAULT 'draft',
    currency currency_code NOT NULL,
    subtotal numeric(12, 2) NOT NULL DEFAULT 0,
    tax numeric(12, 2) NOT NULL DEFAULT 0,
    total numeric(12, 2) GENERATED ALWAYS AS (subtotal + tax) STORED,
    issued_on date,
    due_on date,
    paid_at timestamptz,
    memo text,
    pdf bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (due_on IS NULL OR issued_on IS NULL OR due_on >= issued_on)
);

CREATE TABLE billing.invoice_line_items (
    invoice_number text REFERENCES billing.invoices (number) ON DELETE CASCADE ON UPDATE CASCADE,
    line_no integer,
    description text NOT NULL,
    quantity numeric(10, 3) NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_amount billing.unit_price NOT NULL,
    amount numeric(14, 2) GENERATED ALWAYS AS (round(quantity * unit_amount, 2)) STORED,
    tax_rate_id integer,
    period tstzrange,
    PRIMARY KEY (invoice_number, line_no)
);

CREATE TABLE billing.invoice_discounts (
    invoice_number text REFERENCES billing.invoices (number) ON DELETE CASCADE,
    coupon_code text REFERENCES billing.coupons (code),
    amount numeric(12, 2) NOT NULL,
    PRIMARY KEY (invoice_number, coupon_code)
);

CREATE TABLE billing.payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_number text REFERENCES billing.invoices (number),
    amount billing.positive_money NOT NULL,
    currency currency_code NOT NULL,
    method_id uuid REFERENCES billing.payment_methods (id) ON DELETE SET NULL,
    status billing.payment_status NOT NULL DEFAULT 'pending',
    processor_ref text UNIQUE,
    card_number text,
    failure_reason text,
    received_at timestamptz
);

CREATE TABLE billing.refunds (
    id bigserial PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES billing.payments (id) ON DELETE CASCADE,
    amount billing.positive_money NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing.credit_notes (
    number text PRIMARY KEY,
    invoice_number text NOT NULL REFERENCES billing.invoices (number),
    amount billing.positive_money NOT NULL,
    reason text,
    issued_on date NOT NULL DEFAULT current_date
);

CREATE TABLE billing.tax_rates (
    id serial PRIMARY KEY,
    country country_code NOT NULL,
    region text,
    rate numeric(6, 4) NOT NULL CHECK (rate >= 0 AND rate < 1),
    inclusive boolean NOT NULL DEFAULT false,
    name text NOT NULL,
    UNIQUE (country, region, name)
);

CREATE TABLE billing.usage_records (
    subscription_id uuid REFERENCES billing.subscriptions (id) ON DELETE CASCADE,
    metric text,
    period_start date,
    quantity bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    recorded_at timestamptz,
    PRIMARY KEY (subscription_id, metric, period_start)
);

-- Raw metering stream: deduplicated by event_id, no primary key.
CREATE TABLE billing.metered_events (
    event_id uuid NOT NULL UNIQUE,
    subscription_id uuid,
    metric text NOT NULL,
    quantity bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    idempotency_key text
);

CREATE TABLE billing.dunning_attempts (
    invoice_number text REFERENCES billing.invoices (number) ON DELETE CASCADE,
    attempt_no smallint,
    scheduled_at timestamptz NOT NULL,
    attempted_at timestamptz,
    result text,
    PRIMARY KEY (invoice_number, attempt_no)
);

CREATE TABLE billing.ledger_accounts (
    code text PRIMARY KEY,
    name text NOT NULL,
    kind billing.account_kind NOT NULL,
    parent_code text REFERENCES billing.ledger_accounts (code)
);

CREATE TABLE billing.ledger_entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_code text NOT NULL REFERENCES billing.ledger_accounts (code),
    entry_date date NOT NULL,
    debit numeric(14, 2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit numeric(14, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
    memo text,
    reference text,
    CHECK ((debit = 0) <> (credit = 0))
);

CREATE TABLE billing.payouts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    amount billing.positive_money NOT NULL,
    currency currency_code NOT NULL,
    arrival_date date,
    status text NOT NULL,
    bank_account_number text,
    routing_number text
);

CREATE TABLE billing.disputes (
    id text PRIMARY KEY CHECK (id ~ '^dp_[A-Za-z0-9]+$'),
    payment_id uuid NOT NULL REFERENCES billing.payments (id),
    amount billing.positive_money NOT NULL,
    reason text NOT NULL,
    status text NOT NULL,
    evidence jsonb,
    due_by timestamptz
);

CREATE TABLE billing.billing_contacts (
    customer_id bigint REFERENCES billing.customers (id) ON DELETE CASCADE,
    email email,
    name text,
    is_primary boolean NOT NULL DEFAULT false,
    PRIMARY KEY (customer_id, email)
);

-- ---------------------------------------------------------------------------
-- catalog
-- ---------------------------------------------------------------------------

CREATE TABLE catalog.brands (
    slug slug PRIMARY KEY,
    name text NOT NULL,
    website text,
    logo bytea
);

CREATE TABLE catalog.categories (
    id serial PRIMARY KEY,
    parent_id integer REFERENCES catalog.categories (id) ON DELETE CASCADE,
    slug slug UNIQUE,
    name text NOT NULL,
    path text[] NOT NULL DEFAULT '{}',
    position smallint NOT NULL DEFAULT 0
);

CREATE TABLE catalog.products (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint NOT NULL,
    brand_slug text REFERENCES catalog.brands (slug),
    name text NOT NULL,
    description text,
    status catalog.product_status NOT NULL DEFAULT 'draft',
    attributes jsonb NOT NULL DEFAULT '{}',
    tags tag_list,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog.product_categories (
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    category_id integer REFERENCES catalog.categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);

CREATE TABLE catalog.product_translations (
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    locale text,
    name text NOT NULL,
    description text,
    PRIMARY KEY (product_id, locale)
);

CREATE TABLE catalog.variants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id uuid NOT NULL REFERENCES catalog.products (id) ON DELETE CASCADE,
    name text NOT NULL,
    option_values jsonb NOT NULL DEFAULT '{}',
    weight_grams integer,
    dimensions_mm integer[],
    position smallint
);

CREATE TABLE catalog.skus (
    sku text PRIMARY KEY CHECK (sku ~ '^[A-Z0-9][A-Z0-9-]{2,31}$'),
    variant_id uuid NOT NULL REFERENCES catalog.variants (id) ON DELETE CASCADE,
    barcode text UNIQUE,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog.prices (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sku text NOT NULL REFERENCES catalog.skus (sku) ON DELETE CASCADE ON UPDATE CASCADE,
    currency currency_code NOT NULL,
    unit_amount billing.unit_price NOT NULL,
    valid_during tstzrange,
    is_default boolean NOT NULL DEFAULT false
);

CREATE TABLE catalog.price_tiers (
    price_id bigint REFERENCES catalog.prices (id) ON DELETE CASCADE,
    min_quantity integer,
    unit_amount billing.unit_price NOT NULL,
    PRIMARY KEY (price_id, min_quantity)
);

CREATE TABLE catalog.product_images (
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    position smallint,
    url text NOT NULL,
    alt_text text,
    width integer,
    height integer,
    PRIMARY KEY (product_id, position)
);

CREATE TABLE catalog.attributes (
    code text PRIMARY KEY,
    label text NOT NULL,
    data_type catalog.attribute_type NOT NULL,
    allowed_values text[],
    is_filterable boolean NOT NULL DEFAULT false
);

CREATE TABLE catalog.product_attribute_values (
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    attribute_code text REFERENCES catalog.attributes (code) ON DELETE CASCADE,
    value jsonb NOT NULL,
    PRIMARY KEY (product_id, attribute_code)
);

CREATE TABLE catalog.collections (
    handle slug PRIMARY KEY,
    title text NOT NULL,
    rules jsonb,
    sort_order text,
    published boolean NOT NULL DEFAULT false
);

CREATE TABLE catalog.collection_products (
    collection_handle text REFERENCES catalog.collections (handle) ON DELETE CASCADE,
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    position integer NOT NULL DEFAULT 0,
    PRIMARY KEY (collection_handle, product_id)
);

CREATE TABLE catalog.reviews (
    id bigserial PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES catalog.products (id) ON DELETE CASCADE,
    user_id uuid,
    rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title text,
    body text,
    status publish_status NOT NULL DEFAULT 'review',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog.review_votes (
    review_id bigint REFERENCES catalog.reviews (id) ON DELETE CASCADE,
    user_id uuid,
    helpful boolean NOT NULL,
    voted_at timestamptz DEFAULT now(),
    PRIMARY KEY (review_id, user_id)
);

CREATE TABLE catalog.bundles (
    sku text PRIMARY KEY,
    name text NOT NULL,
    discount_percent percentage
);

CREATE TABLE catalog.bundle_items (
    bundle_sku text REFERENCES catalog.bundles (sku) ON DELETE CASCADE,
    component_sku text,
    quantity smallint NOT NULL DEFAULT 1,
    PRIMARY KEY (bundle_sku, component_sku)
);

CREATE TABLE catalog.product_relations (
    product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    related_product_id uuid REFERENCES catalog.products (id) ON DELETE CASCADE,
    relation catalog.relation_kind,
    strength real,
    PRIMARY KEY (product_id, related_product_id, relation),
    CHECK (product_id <> related_product_id)
);

CREATE TABLE catalog.gift_cards (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE,
    initial_balance billing.positive_money NOT NULL,
    balance numeric(12, 2) NOT NULL,
    currency currency_code NOT NULL,
    expires_on date,
    issued_to email
);

-- Search tuning: one row per term, no primary key.
CREATE TABLE catalog.search_synonyms (
    term text NOT NULL UNIQUE,
    synonyms text[] NOT NULL,
    locale text
);

-- ---------------------------------------------------------------------------
-- support
-- ---------------------------------------------------------------------------

CREATE TABLE support.queues (
    code text PRIMARY KEY,
    name text NOT NULL,
    sla_policy_code text,
    business_hours jsonb,
    is_default boolean NOT NULL DEFAULT false
);

CREATE TABLE support.agents (
    user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    signature text,
    max_open_tickets integer,
    is_available boolean NOT NULL DEFAULT true,
    skills text[]
);

CREATE TABLE support.queue_agents (
    queue_code text REFERENCES support.queues (code) ON DELETE CASCADE,
    agent_user_id uuid REFERENCES support.agents (user_id) ON DELETE CASCADE,
    PRIMARY KEY (queue_code, agent_user_id)
);

CREATE TABLE support.tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL,
    requester_id uuid,
    assignee_id uuid,
    queue_code text REFERENCES support.queues (code),
    subject text NOT NULL,
    status support.ticket_status NOT NULL DEFAULT 'new',
    priority support.ticket_priority NOT NULL DEFAULT 'normal',
    via support.message_via,
    tags text[] NOT NULL DEFAULT '{}',
    custom_fields jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    first_response_at timestamptz,
    resolved_at timestamptz
);

CREATE TABLE support.ticket_messages (
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    seq integer,
    author_id uuid,
    body text NOT NULL,
    is_internal boolean NOT NULL DEFAULT false,
    via support.message_via NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, seq)
);

CREATE TABLE support.ticket_attachments (
    ticket_id bigint,
    seq integer,
    filename text,
    content_type text,
    content bytea,
    PRIMARY KEY (ticket_id, seq, filename),
    FOREIGN KEY (ticket_id, seq) REFERENCES support.ticket_messages (ticket_id, seq) ON DELETE CASCADE
);

CREATE TABLE support.ticket_watchers (
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    user_id uuid,
    since timestamptz,
    PRIMARY KEY (ticket_id, user_id)
);

CREATE TABLE support.ticket_links (
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    linked_ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    kind text NOT NULL DEFAULT 'related',
    PRIMARY KEY (ticket_id, linked_ticket_id),
    CHECK (ticket_id <> linked_ticket_id)
);

CREATE TABLE support.sla_policies (
    code text PRIMARY KEY,
    name text NOT NULL,
    first_response interval NOT NULL,
    resolution interval NOT NULL,
    CHECK (resolution >= first_response)
);

CREATE TABLE support.sla_breaches (
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    policy_code text REFERENCES support.sla_policies (code),
    metric text,
    breached_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, policy_code, metric)
);

CREATE TABLE support.macros (
    id serial PRIMARY KEY,
    name text NOT NULL,
    actions jsonb NOT NULL,
    is_shared boolean NOT NULL DEFAULT false,
    "createdBy" uuid
);

CREATE TABLE support.kb_articles (
    slug slug PRIMARY KEY,
    title text NOT NULL,
    body text,
    status publish_status NOT NULL DEFAULT 'draft',
    view_count integer NOT NULL DEFAULT 0,
    helpful_count integer,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE support.kb_article_versions (
    article_slug text REFERENCES support.kb_articles (slug) ON DELETE CASCADE,
    version integer,
    body text NOT NULL,
    edited_by uuid,
    edited_at timestamptz,
    PRIMARY KEY (article_slug, version)
);

CREATE TABLE support.csat_responses (
    ticket_id bigint PRIMARY KEY REFERENCES support.tickets (id) ON DELETE CASCADE,
    score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment text,
    responded_at timestamptz
);

CREATE TABLE support.business_hours (
    queue_code text REFERENCES support.queues (code) ON DELETE CASCADE,
    weekday smallint CHECK (weekday BETWEEN 0 AND 6),
    opens time NOT NULL,
    closes time NOT NULL,
    PRIMARY KEY (queue_code, weekday),
    CHECK (closes > opens)
);

CREATE TABLE support.chat_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    visitor_id text,
    agent_user_id uuid REFERENCES support.agents (user_id) ON DELETE SET NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    transcript jsonb,
    visitor_ip inet
);

CREATE TABLE support.call_logs (
    call_sid text PRIMARY KEY,
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE SET NULL,
    caller_number text,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    duration interval,
    recording_url text,
    started_at timestamptz
);

CREATE TABLE support.email_threads (
    message_id text PRIMARY KEY,
    ticket_id bigint REFERENCES support.tickets (id) ON DELETE CASCADE,
    in_reply_to text,
    headers jsonb,
    raw bytea,
    received_at timestamptz
);

-- ---------------------------------------------------------------------------
-- hr
-- ---------------------------------------------------------------------------

CREATE TABLE hr.departments (
    code text PRIMARY KEY,
    name text NOT NULL,
    parent_code text REFERENCES hr.departments (code),
    cost_center text
);

CREATE TABLE hr.job_titles (
    code text PRIMARY KEY,
    title text NOT NULL,
    level smallint CHECK (level BETWEEN 1 AND 10),
    family text
);

CREATE TABLE hr.employees (
    employee_number hr.employee_number PRIMARY KEY,
    user_id uuid UNIQUE REFERENCES public.users (id) ON DELETE SET NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    preferred_name text,
    work_email work_email NOT NULL,
    personal_email email,
    national_id text,
    date_of_birth date,
    hire_date date NOT NULL,
    termination_date date,
    department_code text REFERENCES hr.departments (code),
    title_code text REFERENCES hr.job_titles (code),
    manager_number hr.employee_number REFERENCES hr.employees (employee_number),
    employment_type hr.employment_type NOT NULL,
    salary numeric(12, 2),
    bank_account text,
    skills text[],
    work_schedule jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (termination_date IS NULL OR termination_date >= hire_date)
);

CREATE TABLE hr.emergency_contacts (
    employee_number hr.employee_number REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    position smallint,
    name text NOT NULL,
    relation text,
    phone text NOT NULL,
    PRIMARY KEY (employee_number, position)
);

CREATE TABLE hr.compensation_history (
    employee_number hr.employee_number REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    effective_on date,
    salary billing.positive_money NOT NULL,
    currency currency_code NOT NULL,
    reason text,
    approved_by hr.employee_number,
    PRIMARY KEY (employee_number, effective_on)
);

CREATE TABLE hr.time_off_policies (
    code text PRIMARY KEY,
    name text NOT NULL,
    accrual_hours_per_month numeric(6, 2),
    max_carryover_hours numeric(6, 2)
);

CREATE TABLE hr.time_off_balances (
    employee_number hr.employee_number REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    policy_code text REFERENCES hr.time_off_policies (code),
    year smallint,
    hours numeric(6, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (employee_number, policy_code, year)
);

CREATE TABLE hr.time_off_requests (
    id bigserial PRIMARY KEY,
    employee_number hr.employee_number NOT NULL REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    policy_code text NOT NULL REFERENCES hr.time_off_policies (code),
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    hours numeric(6, 2),
    status text NOT NULL DEFAULT 'pending',
    approver hr.employee_number,
    CHECK (ends_on >= starts_on)
);

CREATE TABLE hr.projects (
    code text PRIMARY KEY,
    name text NOT NULL,
    client text,
    billable boolean NOT NULL DEFAULT true,
    budget_hours integer
);

CREATE TABLE hr.timesheet_entries (
    employee_number hr.employee_number REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    work_date date,
    project_code text REFERENCES hr.projects (code),
    hours numeric(4, 2) NOT NULL CHECK (hours > 0 AND hours <= 24),
    note text,
    approved boolean,
    PRIMARY KEY (employee_number, work_date, project_code)
);

CREATE TABLE hr.performance_reviews (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_number hr.employee_number NOT NULL REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    reviewer_number hr.employee_number,
    period text NOT NULL,
    rating smallint CHECK (rating BETWEEN 1 AND 5),
    summary text,
    private_notes text,
    submitted_at timestamptz
);

CREATE TABLE hr.review_goals (
    review_id uuid REFERENCES hr.performance_reviews (id) ON DELETE CASCADE,
    goal_no smallint,
    description text NOT NULL,
    progress percentage,
    PRIMARY KEY (review_id, goal_no)
);

CREATE TABLE hr.benefit_plans (
    code text PRIMARY KEY,
    name text NOT NULL,
    provider text,
    monthly_cost numeric(10, 2)
);

CREATE TABLE hr.benefit_enrollments (
    employee_number hr.employee_number REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    plan_code text REFERENCES hr.benefit_plans (code),
    coverage hr.coverage_level NOT NULL,
    dependents smallint NOT NULL DEFAULT 0,
    enrolled_on date NOT NULL,
    PRIMARY KEY (employee_number, plan_code)
);

CREATE TABLE hr.payroll_runs (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    period daterange NOT NULL,
    pay_date date NOT NULL,
    status text NOT NULL,
    approved_by hr.employee_number
);

CREATE TABLE hr.payslips (
    payroll_run_id bigint REFERENCES hr.payroll_runs (id) ON DELETE CASCADE,
    employee_number hr.employee_number REFERENCES hr.employees (employee_number),
    gross numeric(12, 2) NOT NULL,
    net numeric(12, 2) NOT NULL,
    deductions jsonb,
    bank_account text,
    PRIMARY KEY (payroll_run_id, employee_number)
);

CREATE TABLE hr.employee_documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_number hr.employee_number NOT NULL REFERENCES hr.employees (employee_number) ON DELETE CASCADE,
    kind text NOT NULL,
    filename text,
    content bytea,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);

-- Monthly reporting extract: identified by snapshot_id, no primary key.
CREATE TABLE hr.headcount_snapshots (
    snapshot_id uuid NOT NULL UNIQUE,
    department_code text,
    month date,
    headcount integer,
    contractors integer
);

-- ---------------------------------------------------------------------------
-- analytics
-- ---------------------------------------------------------------------------

-- Range-partitioned by time; the partition key is part of the primary key.
CREATE TABLE analytics.events (
    id bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    organization_id bigint,
    user_id uuid,
    name text NOT NULL,
    properties jsonb,
    context jsonb,
    ip inet,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE analytics.events_2026_01 PARTITION OF analytics.events
    FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');
CREATE TABLE analytics.events_2026_02 PARTITION OF analytics.events
    FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');
CREATE TABLE analytics.events_2026_03 PARTITION OF analytics.events
    FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00');

-- List-partitioned by data-residency region.
CREATE TABLE analytics.usage_by_region (
    region analytics.region NOT NULL,
    organization_id bigint NOT NULL,
    day date NOT NULL,
    api_calls bigint NOT NULL DEFAULT 0,
    storage_bytes bigint,
    active_users integer,
    PRIMARY KEY (region, organization_id, day)
) PARTITION BY LIST (region);

CREATE TABLE analytics.usage_eu PARTITION OF analytics.usage_by_region FOR VALUES IN ('eu');
CREATE TABLE analytics.usage_us PARTITION OF analytics.usage_by_region FOR VALUES IN ('us');
CREATE TABLE analytics.usage_apac PARTITION OF analytics.usage_by_region FOR VALUES IN ('apac');

CREATE TABLE analytics.sessions (
    session_id uuid PRIMARY KEY,
    user_id uuid,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    device jsonb,
    ip inet,
    utm text[],
    page_count integer
);

CREATE TABLE analytics.daily_active_users (
    day date,
    organization_id bigint,
    users integer NOT NULL,
    PRIMARY KEY (day, organization_id)
);

CREATE TABLE analytics.funnels (
    id serial PRIMARY KEY,
    organization_id bigint,
    name text NOT NULL,
    steps text[] NOT NULL
);

CREATE TABLE analytics.funnel_snapshots (
    funnel_id integer REFERENCES analytics.funnels (id) ON DELETE CASCADE,
    day date,
    step_counts integer[] NOT NULL,
    PRIMARY KEY (funnel_id, day)
);

CREATE TABLE analytics.dashboards (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id bigint,
    title text NOT NULL,
    layout jsonb,
    is_public boolean NOT NULL DEFAULT false,
    owner_id uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE analytics.saved_queries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id uuid,
    name text NOT NULL,
    "select" text NOT NULL,
    params jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE analytics.dashboard_widgets (
    dashboard_id uuid REFERENCES analytics.dashboards (id) ON DELETE CASCADE,
    position smallint,
    kind text NOT NULL,
    query_id bigint REFERENCES analytics.saved_queries (id) ON DELETE SET NULL,
    config jsonb,
    PRIMARY KEY (dashboard_id, position)
);

CREATE TABLE analytics.metric_definitions (
    key text PRIMARY KEY,
    expression text NOT NULL,
    unit text,
    aggregation analytics.aggregation NOT NULL DEFAULT 'sum'
);

CREATE TABLE analytics.metric_values (
    metric_key text REFERENCES analytics.metric_definitions (key) ON DELETE CASCADE,
    bucket timestamptz,
    dimensions_hash text,
    value double precision NOT NULL,
    sample_count integer,
    PRIMARY KEY (metric_key, bucket, dimensions_hash)
);

CREATE TABLE analytics.experiments (
    key text PRIMARY KEY,
    hypothesis text,
    status text NOT NULL,
    variants text[] NOT NULL,
    traffic percentage,
    started_at timestamptz,
    ended_at timestamptz
);

CREATE TABLE analytics.experiment_assignments (
    experiment_key text REFERENCES analytics.experiments (key) ON DELETE CASCADE,
    user_id uuid,
    variant text NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment_key, user_id)
);

CREATE TABLE analytics.cohorts (
    id serial PRIMARY KEY,
    organization_id bigint,
    name text NOT NULL,
    definition jsonb NOT NULL
);

CREATE TABLE analytics.cohort_members (
    cohort_id integer REFERENCES analytics.cohorts (id) ON DELETE CASCADE,
    user_id uuid,
    added_at timestamptz,
    PRIMARY KEY (cohort_id, user_id)
);

-- Landing zone for third-party payloads: no primary key.
CREATE TABLE analytics.raw_ingest (
    ingest_id uuid NOT NULL UNIQUE,
    source text NOT NULL,
    body bytea,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE analytics.search_queries (
    id bigserial PRIMARY KEY,
    user_id uuid,
    query text NOT NULL,
    result_count integer,
    clicked_position smallint,
    searched_at timestamptz
);

CREATE TABLE analytics.attribution_touches (
    user_id uuid,
    touched_at timestamptz,
    channel text NOT NULL,
    campaign text,
    utm jsonb,
    PRIMARY KEY (user_id, touched_at)
);

-- ---------------------------------------------------------------------------
-- Cross-schema foreign keys and indexes, added after the tables exist
-- ---------------------------------------------------------------------------

ALTER TABLE billing.customers
    ADD CONSTRAINT customers_organization_fk FOREIGN KEY (organization_id)
        REFERENCES public.organizations (id) ON DELETE CASCADE,
    ADD CONSTRAINT customers_address_fk FOREIGN KEY (address_id)
        REFERENCES public.addresses (id) ON DELETE SET NULL;
ALTER TABLE billing.coupon_redemptions
    ADD CONSTRAINT coupon_redemptions_invoice_fk FOREIGN KEY (invoice_number)
        REFERENCES billing.invoices (number) ON DELETE SET NULL;
ALTER TABLE billing.subscription_items
    ADD CONSTRAINT subscription_items_price_fk FOREIGN KEY (price_id)
        REFERENCES catalog.prices (id);
ALTER TABLE orders
    ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id)
        REFERENCES billing.customers (id) ON DELETE SET NULL;
ALTER TABLE catalog.products
    ADD CONSTRAINT products_organization_fk FOREIGN KEY (organization_id)
        REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE support.tickets
    ADD CONSTRAINT tickets_organization_fk FOREIGN KEY (organization_id)
        REFERENCES public.organizations (id) ON DELETE CASCADE,
    ADD CONSTRAINT tickets_requester_fk FOREIGN KEY (requester_id)
        REFERENCES public.users (id) ON DELETE SET NULL,
    ADD CONSTRAINT tickets_assignee_fk FOREIGN KEY (assignee_id)
        REFERENCES support.agents (user_id) ON DELETE SET NULL;
ALTER TABLE support.queues
    ADD CONSTRAINT queues_sla_policy_fk FOREIGN KEY (sla_policy_code)
        REFERENCES support.sla_policies (code);
ALTER TABLE hr.headcount_snapshots
    ADD CONSTRAINT headcount_snapshots_department_fk FOREIGN KEY (department_code)
        REFERENCES hr.departments (code) ON DELETE CASCADE;
ALTER TABLE analytics.events
    ADD CONSTRAINT events_organization_fk FOREIGN KEY (organization_id)
        REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE "LegacyImports"
    ADD CONSTRAINT "LegacyImports_source_check" CHECK ("SourceSystem" <> '');
ALTER TABLE email_suppressions
    ADD CONSTRAINT email_suppressions_reason_check CHECK (reason <> '');

CREATE INDEX users_display_name_idx ON users (lower(display_name));
CREATE INDEX memberships_user_idx ON memberships (user_id);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX activity_feed_org_time_idx ON activity_feed (organization_id, occurred_at DESC);
CREATE INDEX orders_org_status_idx ON orders (organization_id, status);
CREATE INDEX inventory_movements_sku_idx ON inventory_movements (sku, moved_at);
CREATE INDEX shipments_order_idx ON shipments (order_id);
CREATE INDEX invoices_customer_idx ON billing.invoices (customer_id, issued_on);
CREATE INDEX payments_invoice_idx ON billing.payments (invoice_number);
CREATE INDEX products_tags_idx ON catalog.products USING gin (tags);
CREATE INDEX products_attributes_idx ON catalog.products USING gin (attributes jsonb_path_ops);
CREATE INDEX tickets_queue_status_idx ON support.tickets (queue_code, status);
CREATE INDEX employees_department_idx ON hr.employees (department_code);
CREATE INDEX events_org_time_idx ON analytics.events (organization_id, occurred_at);
CREATE UNIQUE INDEX legacy_imports_source_idx ON "LegacyImports" ("SourceSystem", "ImportId");

COMMENT ON TABLE "LegacyImports" IS 'Rows imported from the v1 platform; kept for reconciliation.';
COMMENT ON COLUMN hr.employees.national_id IS 'Government identifier; never leaves the HR schema.';
