/*
 * Smoothing of a series for the charts: the debiased exponential moving
 * average that TensorBoard uses. For a weight w in [0, 1) and the finite
 * values y1..yn seen so far,
 *
 *	last = w * last + (1 - w) * y	(last starts at 0)
 *	shown = last / (1 - w^n)
 *
 * which is the weighted mean sum(w^(n-i) * yi) / sum(w^(n-i)). That is
 * how it is computed here, both sums kept as they grow: the same value,
 * without the cancellation in 1 - w^n when w is near 1. A mean of the
 * values seen never leaves their range, so the result is clamped to
 * [min, max] of them: rounding can then neither overshoot a step nor
 * make a constant series drift, and a constant c is shown as exactly c.
 *
 * Values that are not finite (NaN, Infinity, -Infinity) are passed
 * through as they are and do not enter the average; so are null and
 * undefined (no value). A weight of 0 gives the raw series.
 *
 * Loaded by index.html as a plain script (window.LossmonSmooth) and by
 * the unit tests under node (module.exports).
 */
(function (root) {
	'use strict';

	const MAX_WEIGHT = 0.999;

	/* Returns a new array as long as values; values is not changed.
	 * Throws a RangeError for a weight outside [0, MAX_WEIGHT]. */
	function smooth(values, weight) {
		const out = new Array(values.length);
		let num = 0;
		let den = 0;
		let lo = Infinity;
		let hi = -Infinity;

		if (!(weight >= 0 && weight <= MAX_WEIGHT))
			throw new RangeError('smoothing weight ' + weight +
			    ' is not in [0, ' + MAX_WEIGHT + ']');
		if (weight === 0)
			return values.slice();
		for (let i = 0; i < values.length; i++) {
			const y = values[i];

			if (typeof y !== 'number' || !Number.isFinite(y)) {
				out[i] = y;
				continue;
			}
			num = weight * num + y;
			den = weight * den + 1;
			if (y < lo)
				lo = y;
			if (y > hi)
				hi = y;
			const v = num / den;
			out[i] = v < lo ? lo : v > hi ? hi : v;
		}
		return out;
	}

	const api = Object.freeze({ smooth, MAX_WEIGHT });

	if (typeof module === 'object' && module.exports)
		module.exports = api;
	else
		root.LossmonSmooth = api;
})(typeof globalThis === 'object' ? globalThis : this);
