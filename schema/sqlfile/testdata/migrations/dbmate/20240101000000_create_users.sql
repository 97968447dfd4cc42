-- migrate:up
CREATE TABLE dbmate_users (id int PRIMARY KEY, name text);

-- migrate:down
DROP TABLE dbmate_users;
