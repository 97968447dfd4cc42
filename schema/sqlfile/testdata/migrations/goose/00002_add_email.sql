-- +goose Up
ALTER TABLE goose_users ADD COLUMN email text;

-- +goose Down
ALTER TABLE goose_users DROP COLUMN email;
