-- Summaries of the points of a metric over fixed ranges of steps, so
-- that a downsampled history reads a few thousand summaries instead of
-- every point.  A block of level L (1 or 2) holds the steps with the
-- same step >> (6 * L): 64 or 4,096 steps.  Ranges of steps, not of
-- positions, because steps arrive in any order and a step's value
-- changes while the batches of that step accumulate.  Two levels: each
-- costs every write of a point an upsert, and blocks of 4,096 steps
-- already make even a billion steps a few hundred thousand rows.
--
-- A summary keeps how many points the block has and five of them (step,
-- value, time): the first and the last, the smallest and the largest
-- finite value (the earlier step on a tie), and the first NaN or
-- infinite one.  A step of NULL means there is no such point.  As in
-- points, a NULL value is NaN.
--
-- Triggers keep the summaries in the transaction that writes the
-- points, whoever writes them.  A point's step and metric never change
-- (a point is written again instead), and points leave only with their
-- metric, whose summaries go with it, or one at a time.

CREATE TABLE point_blocks (
	metric_id	INTEGER NOT NULL REFERENCES metrics(id)
			    ON DELETE CASCADE,
	level		INTEGER NOT NULL,
	block		INTEGER NOT NULL,	-- step >> (6 * level)
	n		INTEGER NOT NULL,	-- points in the block
	first_step	INTEGER NOT NULL,
	first_value	REAL,
	first_time	REAL NOT NULL,
	last_step	INTEGER NOT NULL,
	last_value	REAL,
	last_time	REAL NOT NULL,
	min_step	INTEGER,		-- smallest finite value
	min_value	REAL,
	min_time	REAL,
	max_step	INTEGER,		-- largest finite value
	max_value	REAL,
	max_time	REAL,
	bad_step	INTEGER,		-- first NaN or infinite value
	bad_value	REAL,
	bad_time	REAL,
	PRIMARY KEY (metric_id, level, block)
) WITHOUT ROWID;

-- SQLite has no procedures.  The two below are tables that never hold a
-- row: inserting one runs its trigger, which does the work and then
-- drops the row.
--
-- Merging a point (n = 1 when it is new, 0 when it replaces the point
-- of its step; ok when its value is finite) into the blocks of its step.
-- The point takes the place of the one it replaces as first, last,
-- smallest, largest or first bad, and of any it beats; a replaced
-- smallest, largest or first bad point that should lose its place is
-- left to point_fixes.  One statement per level, written out: a join
-- with a list of levels costs several times more on every write.
CREATE TABLE point_merges (
	metric_id	INTEGER NOT NULL,
	step		INTEGER NOT NULL,
	value		REAL,
	time		REAL NOT NULL,
	ok		INTEGER NOT NULL,
	n		INTEGER NOT NULL
);

CREATE TRIGGER point_merges_run BEFORE INSERT ON point_merges
BEGIN
	INSERT INTO point_blocks VALUES (new.metric_id, 1, new.step >> 6,
	    new.n, new.step, new.value, new.time,
	    new.step, new.value, new.time,
	    iif(new.ok, new.step, NULL), iif(new.ok, new.value, NULL),
	    iif(new.ok, new.time, NULL),
	    iif(new.ok, new.step, NULL), iif(new.ok, new.value, NULL),
	    iif(new.ok, new.time, NULL),
	    iif(new.ok, NULL, new.step), iif(new.ok, NULL, new.value),
	    iif(new.ok, NULL, new.time))
	ON CONFLICT DO UPDATE SET
	    n = n + excluded.n,
	    first_step = iif(excluded.first_step <= first_step,
		excluded.first_step, first_step),
	    first_value = iif(excluded.first_step <= first_step,
		excluded.first_value, first_value),
	    first_time = iif(excluded.first_step <= first_step,
		excluded.first_time, first_time),
	    last_step = iif(excluded.last_step >= last_step,
		excluded.last_step, last_step),
	    last_value = iif(excluded.last_step >= last_step,
		excluded.last_value, last_value),
	    last_time = iif(excluded.last_step >= last_step,
		excluded.last_time, last_time),
	    min_step = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_step, min_step),
	    min_value = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_value, min_value),
	    min_time = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_time, min_time),
	    max_step = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_step, max_step),
	    max_value = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_value, max_value),
	    max_time = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_time, max_time),
	    bad_step = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_step, bad_step),
	    bad_value = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_value, bad_value),
	    bad_time = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_time, bad_time);
	INSERT INTO point_blocks VALUES (new.metric_id, 2, new.step >> 12,
	    new.n, new.step, new.value, new.time,
	    new.step, new.value, new.time,
	    iif(new.ok, new.step, NULL), iif(new.ok, new.value, NULL),
	    iif(new.ok, new.time, NULL),
	    iif(new.ok, new.step, NULL), iif(new.ok, new.value, NULL),
	    iif(new.ok, new.time, NULL),
	    iif(new.ok, NULL, new.step), iif(new.ok, NULL, new.value),
	    iif(new.ok, NULL, new.time))
	ON CONFLICT DO UPDATE SET
	    n = n + excluded.n,
	    first_step = iif(excluded.first_step <= first_step,
		excluded.first_step, first_step),
	    first_value = iif(excluded.first_step <= first_step,
		excluded.first_value, first_value),
	    first_time = iif(excluded.first_step <= first_step,
		excluded.first_time, first_time),
	    last_step = iif(excluded.last_step >= last_step,
		excluded.last_step, last_step),
	    last_value = iif(excluded.last_step >= last_step,
		excluded.last_value, last_value),
	    last_time = iif(excluded.last_step >= last_step,
		excluded.last_time, last_time),
	    min_step = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_step, min_step),
	    min_value = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_value, min_value),
	    min_time = iif(excluded.min_step IS NOT NULL AND
		(min_step IS NULL OR
		excluded.min_value < min_value OR
		excluded.min_value = min_value AND
		excluded.min_step <= min_step),
		excluded.min_time, min_time),
	    max_step = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_step, max_step),
	    max_value = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_value, max_value),
	    max_time = iif(excluded.max_step IS NOT NULL AND
		(max_step IS NULL OR
		excluded.max_value > max_value OR
		excluded.max_value = max_value AND
		excluded.max_step <= max_step),
		excluded.max_time, max_time),
	    bad_step = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_step, bad_step),
	    bad_value = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_value, bad_value),
	    bad_time = iif(excluded.bad_step IS NOT NULL AND
		(bad_step IS NULL OR excluded.bad_step <= bad_step),
		excluded.bad_time, bad_time);
	SELECT RAISE(IGNORE);
END;

-- Recomputing a block of level 1 from its points, steps lo to hi, or of
-- level 2 from its blocks of level 1, lo to hi.  Fix the levels in
-- order: level 2 is made from level 1.  The smallest and the largest
-- are found without sorting: SQLite's sorter allocates more than the
-- rest of the statement.  The unary + keeps the planner on the primary
-- key: points_by_value would have it seek the metric's smallest values.
CREATE TABLE point_fixes (
	metric_id	INTEGER NOT NULL,
	level		INTEGER NOT NULL,
	lo		INTEGER NOT NULL,
	hi		INTEGER NOT NULL
);

CREATE TRIGGER point_fixes_run BEFORE INSERT ON point_fixes
BEGIN
	UPDATE point_blocks SET
	    (first_step, first_value, first_time) = (SELECT step, value, time
		FROM points WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi
		ORDER BY step LIMIT 1),
	    (last_step, last_value, last_time) = (SELECT step, value, time
		FROM points WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi
		ORDER BY step DESC LIMIT 1),
	    (min_step, min_value, min_time) = (SELECT step, value, time
		FROM points WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi AND
		+value = (SELECT min(+value) FROM points
		WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi AND abs(value) < 9e999)
		ORDER BY step LIMIT 1),
	    (max_step, max_value, max_time) = (SELECT step, value, time
		FROM points WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi AND
		+value = (SELECT max(+value) FROM points
		WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi AND abs(value) < 9e999)
		ORDER BY step LIMIT 1),
	    (bad_step, bad_value, bad_time) = (SELECT step, value, time
		FROM points WHERE metric_id = new.metric_id AND
		step BETWEEN new.lo AND new.hi AND
		(value IS NULL OR abs(value) >= 9e999)
		ORDER BY step LIMIT 1)
	WHERE new.level = 1 AND metric_id = new.metric_id AND level = 1 AND
	    block = new.lo >> 6;
	UPDATE point_blocks SET
	    (first_step, first_value, first_time) = (SELECT
		first_step, first_value, first_time
		FROM point_blocks WHERE metric_id = new.metric_id AND
		level = 1 AND block BETWEEN new.lo AND new.hi
		ORDER BY block LIMIT 1),
	    (last_step, last_value, last_time) = (SELECT
		last_step, last_value, last_time
		FROM point_blocks WHERE metric_id = new.metric_id AND
		level = 1 AND block BETWEEN new.lo AND new.hi
		ORDER BY block DESC LIMIT 1),
	    (min_step, min_value, min_time) = (SELECT
		min_step, min_value, min_time
		FROM point_blocks WHERE metric_id = new.metric_id AND
		level = 1 AND block BETWEEN new.lo AND new.hi AND
		min_value = (SELECT min(min_value) FROM point_blocks
		WHERE metric_id = new.metric_id AND level = 1 AND
		block BETWEEN new.lo AND new.hi)
		ORDER BY block LIMIT 1),
	    (max_step, max_value, max_time) = (SELECT
		max_step, max_value, max_time
		FROM point_blocks WHERE metric_id = new.metric_id AND
		level = 1 AND block BETWEEN new.lo AND new.hi AND
		max_value = (SELECT max(max_value) FROM point_blocks
		WHERE metric_id = new.metric_id AND level = 1 AND
		block BETWEEN new.lo AND new.hi)
		ORDER BY block LIMIT 1),
	    (bad_step, bad_value, bad_time) = (SELECT
		bad_step, bad_value, bad_time
		FROM point_blocks WHERE metric_id = new.metric_id AND
		level = 1 AND block BETWEEN new.lo AND new.hi AND
		bad_step IS NOT NULL
		ORDER BY block LIMIT 1)
	WHERE new.level = 2 AND metric_id = new.metric_id AND level = 2 AND
	    block = new.lo >> 6;
	SELECT RAISE(IGNORE);
END;

CREATE TRIGGER points_insert_blocks AFTER INSERT ON points
BEGIN
	INSERT INTO point_merges VALUES (new.metric_id, new.step, new.value,
	    new.time, new.value IS NOT NULL AND abs(new.value) < 9e999, 1);
END;

CREATE TRIGGER points_update_blocks AFTER UPDATE OF value, time ON points
BEGIN
	INSERT INTO point_merges VALUES (new.metric_id, new.step, new.value,
	    new.time, new.value IS NOT NULL AND abs(new.value) < 9e999, 0);
	-- A replaced smallest, largest or first bad point that kept its
	-- place but not its value and time.
	INSERT INTO point_fixes SELECT new.metric_id, 1,
	    new.step >> 6 << 6, (new.step >> 6 << 6) + 63
	WHERE EXISTS (SELECT 1 FROM point_blocks
	    WHERE metric_id = new.metric_id AND level = 1 AND
	    block = new.step >> 6 AND (
	    min_step = new.step AND (min_value IS NOT new.value OR
	    min_time IS NOT new.time) OR
	    max_step = new.step AND (max_value IS NOT new.value OR
	    max_time IS NOT new.time) OR
	    bad_step = new.step AND (bad_value IS NOT new.value OR
	    bad_time IS NOT new.time)));
	INSERT INTO point_fixes SELECT new.metric_id, 2,
	    new.step >> 12 << 6, (new.step >> 12 << 6) + 63
	WHERE EXISTS (SELECT 1 FROM point_blocks
	    WHERE metric_id = new.metric_id AND level = 2 AND
	    block = new.step >> 12 AND (
	    min_step = new.step AND (min_value IS NOT new.value OR
	    min_time IS NOT new.time) OR
	    max_step = new.step AND (max_value IS NOT new.value OR
	    max_time IS NOT new.time) OR
	    bad_step = new.step AND (bad_value IS NOT new.value OR
	    bad_time IS NOT new.time)));
END;

CREATE TRIGGER points_keep_step BEFORE UPDATE OF metric_id, step ON points
WHEN new.metric_id IS NOT old.metric_id OR new.step IS NOT old.step
BEGIN
	SELECT RAISE(ABORT, 'a point keeps its metric and step');
END;

-- A metric being deleted takes its summaries along (ON DELETE CASCADE):
-- nothing to fix then.
CREATE TRIGGER points_delete_blocks AFTER DELETE ON points
WHEN EXISTS (SELECT 1 FROM metrics WHERE id = old.metric_id)
BEGIN
	UPDATE point_blocks SET n = n - 1
	WHERE metric_id = old.metric_id AND (level = 1 AND
	    block = old.step >> 6 OR level = 2 AND block = old.step >> 12);
	DELETE FROM point_blocks
	WHERE metric_id = old.metric_id AND n = 0 AND (level = 1 AND
	    block = old.step >> 6 OR level = 2 AND block = old.step >> 12);
	INSERT INTO point_fixes SELECT old.metric_id, 1,
	    old.step >> 6 << 6, (old.step >> 6 << 6) + 63
	WHERE EXISTS (SELECT 1 FROM point_blocks
	    WHERE metric_id = old.metric_id AND level = 1 AND
	    block = old.step >> 6 AND old.step IN (first_step,
	    last_step, min_step, max_step, bad_step));
	INSERT INTO point_fixes SELECT old.metric_id, 2,
	    old.step >> 12 << 6, (old.step >> 12 << 6) + 63
	WHERE EXISTS (SELECT 1 FROM point_blocks
	    WHERE metric_id = old.metric_id AND level = 2 AND
	    block = old.step >> 12 AND old.step IN (first_step,
	    last_step, min_step, max_step, bad_step));
END;

-- The summaries of the points already there.
INSERT INTO point_merges SELECT metric_id, step, value, time,
    value IS NOT NULL AND abs(value) < 9e999, 1
FROM points;
