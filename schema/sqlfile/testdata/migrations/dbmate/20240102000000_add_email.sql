-- migrate:up transaction:false
ALTER TABLE dbmate_users ADD COLUMN email text;

-- migrate:down
ALTER TABLE dbmate_users DROP COLUMN email;
