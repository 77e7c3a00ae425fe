-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d).
-- Each Precis service owns its own database; the services create their tables themselves
-- (Alembic migrations at start-up). The role `precis` is created by POSTGRES_USER.
CREATE DATABASE ingestion OWNER precis;
CREATE DATABASE profile OWNER precis;
CREATE DATABASE consent OWNER precis;
CREATE DATABASE segmentation OWNER precis;
CREATE DATABASE recommendation OWNER precis;
CREATE DATABASE measurement OWNER precis;
