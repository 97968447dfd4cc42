-- Hostile names: keywords, collisions, quotes, spaces, unicode, leading
-- digits, 63-byte names, names that would make odd Go file names.
CREATE TYPE "user" AS ENUM ('a');
CREATE TYPE user_status AS ENUM ('active', 'in active', 'ACTIVE', '2nd', '!!', '名前');
CREATE TABLE "Users" (
    id integer PRIMARY KEY,
    user_id integer,
    "userId" integer,
    type text,
    func text,
    range text,
    "2fa_enabled" boolean,
    "first name" text,
    "e-mail" text,
    "naïve" text,
    "名前" text,
    "emoji😀col" text,
    "quote""d" text,
    "back`tick" text,
    "comma,col" text,
    "-" text,
    "back\slash" text,
    "new
line" text,
    marshal_json text,
    "MarshalJSON" text,
    x text,
    "X" text,
    api_url text,
    "HTTPServer" text,
    ids integer[],
    status user_status,
    a_column_name_that_is_exactly_sixty_three_bytes_long_abcdefghij text
);
CREATE TABLE users (id integer PRIMARY KEY, "user" "user");
CREATE TABLE data (id integer PRIMARY KEY);
CREATE TABLE categories (id integer PRIMARY KEY);
CREATE TABLE addresses (id integer PRIMARY KEY);
CREATE TABLE boxes (id integer PRIMARY KEY);
CREATE TABLE status (id integer PRIMARY KEY);
CREATE TABLE threadline (id integer PRIMARY KEY);
CREATE TABLE events_linux (id integer PRIMARY KEY);
CREATE TABLE foo_test (id integer PRIMARY KEY);
CREATE TABLE "odd.name" (id integer PRIMARY KEY);
CREATE TABLE _private (id integer PRIMARY KEY);
CREATE TABLE "123" (id integer PRIMARY KEY);
CREATE TABLE "Ünïcödé rows" ("clé" text PRIMARY KEY);
CREATE TABLE a_table_name_that_is_exactly_sixty_three_bytes_long_abcdefghijk (id integer PRIMARY KEY);
CREATE TABLE weird_keys ("key one" text, "key""two" integer, payload text, PRIMARY KEY ("key one", "key""two"));
CREATE TABLE reserved_keys (type text, len integer, func text, "String" text, PRIMARY KEY (type, len, func));
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema".invoices (id integer PRIMARY KEY);
CREATE TABLE audits (id integer PRIMARY KEY);
CREATE TABLE record_actions (id integer PRIMARY KEY);
