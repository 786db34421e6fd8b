-- PostgreSQL form of ../0006_task_seconds.sql (REAL is DOUBLE PRECISION here).

ALTER TABLE jobs ADD COLUMN task_seconds DOUBLE PRECISION;
