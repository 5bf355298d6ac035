-- Runs, their metrics per split, and one row per metric and step.
--
-- A value is REAL; SQLite cannot keep NaN in a REAL column and stores it
-- as NULL, so a NULL value means NaN.  The statistics of a loss (sums and
-- counts that add up across the batches of a step) are kept as a BLOB of
-- native doubles, where NaN survives.

CREATE TABLE runs (
	id		INTEGER PRIMARY KEY,
	name		TEXT NOT NULL UNIQUE,
	losses		TEXT NOT NULL,		-- canonical JSON of the terms
	params		TEXT NOT NULL DEFAULT '{}',
	tags		TEXT NOT NULL DEFAULT '{}',
	created		REAL NOT NULL,		-- unix seconds
	last_step	INTEGER,		-- highest step posted
	last_time	REAL			-- unix seconds of last post
);

CREATE TABLE metrics (
	id		INTEGER PRIMARY KEY,
	run_id		INTEGER NOT NULL REFERENCES runs(id)
			    ON DELETE CASCADE,
	name		TEXT NOT NULL,
	split		TEXT NOT NULL,
	kind		INTEGER NOT NULL,	-- 0 loss, 1 total, 2 scalar
	UNIQUE (run_id, name, split)
);

CREATE TABLE points (
	metric_id	INTEGER NOT NULL REFERENCES metrics(id)
			    ON DELETE CASCADE,
	step		INTEGER NOT NULL,
	value		REAL,			-- NULL is NaN
	stats		BLOB,			-- loss statistics
	time		REAL NOT NULL,		-- unix seconds of last update
	PRIMARY KEY (metric_id, step)
) WITHOUT ROWID;
