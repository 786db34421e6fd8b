-- PostgreSQL form of ../0005_delivery_nonce.sql (the same statement).

ALTER TABLE jobs ADD COLUMN delivery_nonce TEXT;
