/*
 * Pure helpers for the series the dashboard holds: reading the API's
 * values, merging fetched points into held ones, finding points by x,
 * the weighted contributions of loss terms, axis ranges, and CSV.
 *
 * A point is [step, value, time]: step an integer, value a number (NaN
 * and the infinities included), time unix seconds. Arrays of points are
 * ordered by step, as the API sends them.
 *
 * Loaded by index.html as a plain script (window.LossmonSeries) and by
 * the unit tests under node (module.exports).
 */
(function (root) {
	'use strict';

	/* The API's value: a number or one of three strings. Anything else
	 * is not a number either, so it reads as NaN. */
	function parseValue(v) {
		if (typeof v === 'number')
			return v;
		if (v === 'Infinity')
			return Infinity;
		if (v === '-Infinity')
			return -Infinity;
		return NaN;
	}

	/* The exact text of a value: the shortest decimal that reads back
	 * as the same double, or the API's string for the others. */
	function exact(v) {
		if (Number.isNaN(v))
			return 'NaN';
		if (v === Infinity)
			return 'Infinity';
		if (v === -Infinity)
			return '-Infinity';
		return String(v);
	}

	/* The value as JSON holds it: a number, or the API's string. */
	function jsonValue(v) {
		return Number.isFinite(v) ? v : exact(v);
	}

	function fromAPI(points) {
		return (points || []).map((p) =>
		    [p[0], parseValue(p[1]), p[2]]);
	}

	/* held with every point at or after step `from` replaced by
	 * fetched (which starts at or after `from`). A new array. */
	function mergeTail(held, fetched, from) {
		let keep = held.length;

		while (keep > 0 && held[keep - 1][0] >= from)
			keep--;
		return held.slice(0, keep).concat(fetched);
	}

	/* The overview's points outside [lo, hi] around the detail's
	 * points, which lie inside it. A new array. */
	function spliceDetail(overview, detail, lo, hi) {
		const before = overview.filter((p) => p[0] < lo);
		const after = overview.filter((p) => p[0] > hi);

		return before.concat(detail, after);
	}

	/* The first index i with xs[i] >= x in ascending xs. */
	function lowerBound(xs, x) {
		let lo = 0;
		let hi = xs.length;

		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (xs[mid] < x)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo;
	}

	/* The index of the x nearest to x in ascending xs; -1 if empty. */
	function nearest(xs, x) {
		const i = lowerBound(xs, x);

		if (xs.length === 0)
			return -1;
		if (i === 0)
			return 0;
		if (i === xs.length)
			return xs.length - 1;
		return x - xs[i - 1] <= xs[i] - x ? i - 1 : i;
	}

	/*
	 * The steps to ask the server for so that every point whose x lies
	 * in [x0, x1] is covered: the held points are a downsampled view,
	 * so the range reaches out to the held neighbours on either side.
	 * xOf(point) gives a point's x. Returns [lo, hi], or null when the
	 * series holds no point.
	 */
	function stepRange(points, xOf, x0, x1) {
		let first = -1;
		let last = -1;

		for (let i = 0; i < points.length; i++) {
			const x = xOf(points[i]);
			if (x >= x0 && x <= x1) {
				if (first < 0)
					first = i;
				last = i;
			}
		}
		if (points.length === 0)
			return null;
		if (first < 0) {
			/* The range falls between two held points. */
			let i = 0;
			while (i < points.length && xOf(points[i]) < x0)
				i++;
			first = Math.max(0, i - 1);
			last = Math.min(points.length - 1, i);
		} else {
			first = Math.max(0, first - 1);
			last = Math.min(points.length - 1, last + 1);
		}
		return [points[first][0], points[last][0]];
	}

	/*
	 * The weighted contributions of a run's loss terms, weight times
	 * loss, at the steps all terms have (downsampled terms keep
	 * different steps; the bucket edges are shared). terms: arrays of
	 * points, one per term; weights: one per term. Returns { steps,
	 * times, parts } where parts[k][i] is term k's contribution at
	 * steps[i], NaN or infinite where the loss was.
	 */
	function contributions(terms, weights) {
		const maps = terms.map((pts) =>
		    new Map(pts.map((p) => [p[0], p])));
		const steps = [];
		const times = [];
		const parts = terms.map(() => []);

		if (!terms.length)
			return { steps, times, parts };
		for (const p of terms[0]) {
			const step = p[0];
			if (!maps.every((m) => m.has(step)))
				continue;
			steps.push(step);
			times.push(p[2]);
			maps.forEach((m, k) => {
				parts[k].push(weights[k] * m.get(step)[1]);
			});
		}
		return { steps, times, parts };
	}

	/* Running sums of parts (stacked areas); as percentages of the
	 * sum when `shares`. A step with a value that is not finite, or a
	 * zero sum for shares, is null in every layer: a gap. */
	function stack(parts, shares) {
		const n = parts.length ? parts[0].length : 0;
		const out = parts.map(() => new Array(n));

		for (let i = 0; i < n; i++) {
			let sum = 0;
			let ok = true;

			for (const p of parts) {
				ok = ok && Number.isFinite(p[i]);
				sum += p[i];
			}
			if (shares && sum === 0)
				ok = false;
			let acc = 0;
			for (let k = 0; k < parts.length; k++) {
				acc += parts[k][i];
				out[k][i] = !ok ? null :
				    shares ? 100 * acc / sum : acc;
			}
		}
		return out;
	}

	/*
	 * The smallest and largest value drawn with x in [x0, x1] (all x
	 * when x0 is null), over series [{ xs, ys }]; only values > 0 when
	 * `log`. null and undefined are skipped. Returns null when there
	 * is none.
	 */
	function valueRange(series, x0, x1, log) {
		let lo = Infinity;
		let hi = -Infinity;

		for (const s of series) {
			const a = x0 === null ? 0 : lowerBound(s.xs, x0);
			for (let i = a; i < s.xs.length; i++) {
				if (x1 !== null && s.xs[i] > x1)
					break;
				const y = s.ys[i];
				if (typeof y !== 'number' ||
				    !Number.isFinite(y) || (log && y <= 0))
					continue;
				if (y < lo)
					lo = y;
				if (y > hi)
					hi = y;
			}
		}
		return lo <= hi ? [lo, hi] : null;
	}

	/* Room around a value range so lines do not touch the frame; a
	 * flat range gets a band around its value. */
	function padRange(range, log) {
		let [lo, hi] = range;

		if (log) {
			if (lo === hi)
				return [lo / 2, hi * 2];
			const f = Math.pow(hi / lo, 0.05);
			return [lo / f, hi * f];
		}
		if (lo === hi) {
			const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
			return [lo - d, hi + d];
		}
		const d = (hi - lo) * 0.05;
		return [lo - d, hi + d];
	}

	/* "3h 05m", "4m 10s", "12.5s", "0.25s": a duration in seconds, for
	 * axes and the hover panel. */
	function duration(sec) {
		const neg = sec < 0;
		let s = Math.abs(sec);
		let text;

		if (s < 10) {
			text = (Math.round(s * 1000) / 1000) + 's';
		} else if (s < 60) {
			text = (Math.round(s * 10) / 10) + 's';
		} else if (s < 3600) {
			s = Math.round(s);
			text = Math.floor(s / 60) + 'm ' +
			    String(s % 60).padStart(2, '0') + 's';
		} else if (s < 86400) {
			s = Math.round(s / 60);
			text = Math.floor(s / 60) + 'h ' +
			    String(s % 60).padStart(2, '0') + 'm';
		} else {
			s = Math.round(s / 3600);
			text = Math.floor(s / 24) + 'd ' +
			    String(s % 24).padStart(2, '0') + 'h';
		}
		return (neg ? '-' : '') + text;
	}

	/* One CSV field: quoted when it holds a comma, a quote, a line
	 * break or white space at an end (RFC 4180). */
	function csvField(v) {
		const s = String(v);

		if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s))
			return '"' + s.replace(/"/g, '""') + '"';
		return s;
	}

	/* rows: arrays of fields, the header first. CRLF line ends. */
	function csv(rows) {
		return rows.map((r) => r.map(csvField).join(',') + '\r\n')
		    .join('');
	}

	const api = Object.freeze({
		parseValue, exact, jsonValue, fromAPI, mergeTail,
		spliceDetail, lowerBound, nearest, stepRange, contributions,
		stack, valueRange, padRange, duration, csvField, csv,
	});

	if (typeof module === 'object' && module.exports)
		module.exports = api;
	else
		root.LossmonSeries = api;
})(typeof globalThis === 'object' ? globalThis : this);
