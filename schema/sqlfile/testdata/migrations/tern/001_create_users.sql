CREATE TABLE tern_users (id int PRIMARY KEY, name text);

---- create above / drop below ----

DROP TABLE tern_users;
