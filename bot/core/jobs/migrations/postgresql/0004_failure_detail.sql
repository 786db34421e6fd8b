-- PostgreSQL form of ../0004_failure_detail.sql (the same statement).

ALTER TABLE jobs ADD COLUMN failure_detail TEXT NOT NULL DEFAULT '';
