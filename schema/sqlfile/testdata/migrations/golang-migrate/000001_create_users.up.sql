CREATE TABLE gm_users (id int PRIMARY KEY, name text);
