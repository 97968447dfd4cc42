-- +goose Up
-- +goose StatementBegin
CREATE TABLE goose_users (
    id bigint PRIMARY KEY,
    name text NOT NULL
);
-- +goose StatementEnd
CREATE FUNCTION goose_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END;
$$;

-- +goose Down
-- +goose StatementBegin
DROP TABLE goose_users;
-- +goose StatementEnd
this is not SQL and must never be parsed;
