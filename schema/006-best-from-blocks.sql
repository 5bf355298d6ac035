-- The best (smallest finite) value of a metric is now read from its
-- summaries of 4,096 steps (schema/005): a few rows for any history.
-- The index on values it replaces cost every point written a random
-- insert, and a page of its own in the commit.
DROP INDEX points_by_value;
