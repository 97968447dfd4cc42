CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text, name text, updated_at timestamptz);
CREATE TABLE memberships (org_id int, user_id bigint, role text, PRIMARY KEY (org_id, user_id));
CREATE TABLE events (id bigint, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE "Weird ""Name"" $threadline$" ("K" text PRIMARY KEY, "it's" text);
