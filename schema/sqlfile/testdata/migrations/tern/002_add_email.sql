ALTER TABLE tern_users ADD COLUMN email text;
---- create above / drop below ----
ALTER TABLE tern_users DROP COLUMN email;
