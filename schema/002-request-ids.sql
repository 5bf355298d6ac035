-- The replies to requests that carried an id, so that a client's retry
-- of a batch it already posted gets the first answer and counts nothing
-- twice.  Written in the transaction of the request itself.

CREATE TABLE requests (
	run_id		INTEGER NOT NULL REFERENCES runs(id)
			    ON DELETE CASCADE,
	id		TEXT NOT NULL,
	reply		TEXT NOT NULL,		-- the JSON answered
	PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
