-- Finds the best (smallest) value of a metric without reading all its
-- points: the run list shows each split's best total.
CREATE INDEX points_by_value ON points (metric_id, value);
