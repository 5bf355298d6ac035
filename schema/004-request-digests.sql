-- A digest of each request kept with its id, so that an id used again
-- for another request is refused instead of answered with the first
-- reply.  Rows from before this migration have an empty digest and
-- match any retry.
ALTER TABLE requests ADD COLUMN digest TEXT NOT NULL DEFAULT '';
