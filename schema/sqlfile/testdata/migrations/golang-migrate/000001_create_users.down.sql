DROP TABLE gm_users;
