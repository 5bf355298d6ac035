// Unit tests of the dashboard's pure modules under node, no browser:
// web/smooth.js (the debiased exponential moving average), web/
// viewstate.js (the view in the address bar) and web/series.js (merging,
// finding, contributions, ranges, CSV).
//
// Expected smoothing values come from the definition written out
// independently here (the weighted mean sum(w^(n-i) y_i) / sum(w^(n-i)),
// summed in exact rational arithmetic with BigInt), not from the module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOP = process.env.TOP_SRCDIR || path.dirname(HERE);
const load = (f) => createRequire(import.meta.url)(path.join(TOP, 'web',
    f));
const { smooth, MAX_WEIGHT } = load('smooth.js');
const VS = load('viewstate.js');
const S = load('series.js');

// ---- exact reference for the smoothing ----

// A finite double as an exact fraction [numerator, denominator].
function frac(x) {
	const buf = new DataView(new ArrayBuffer(8));

	buf.setFloat64(0, x);
	const hi = buf.getUint32(0);
	const lo = buf.getUint32(4);
	const sign = hi >>> 31 ? -1n : 1n;
	const exp = (hi >>> 20) & 0x7ff;
	let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
	let e;

	if (exp === 0) {
		e = -1074;
	} else {
		mant |= 1n << 52n;
		e = exp - 1075;
	}
	if (e >= 0)
		return [sign * mant * (1n << BigInt(e)), 1n];
	return [sign * mant, 1n << BigInt(-e)];
}

function add(a, b) {
	return [a[0] * b[1] + b[0] * a[1], a[1] * b[1]];
}

function mul(a, b) {
	return [a[0] * b[0], a[1] * b[1]];
}

// The fraction rounded to the nearest double, to within one unit in the
// last place (good enough for a reference accurate far beyond it).
function toDouble(f) {
	let [n, d] = f;
	const neg = n < 0n;

	if (neg)
		n = -n;
	// Scale so the quotient has 64 significant bits.
	let shift = BigInt(d.toString(2).length - n.toString(2).length + 64);
	const q = shift >= 0n ? (n << shift) / d : n / (d << -shift);
	const v = Number(q) * Math.pow(2, -Number(shift));
	return neg ? -v : v;
}

// The debiased EMA by its definition: the mean of the finite values seen
// so far, value i weighted by w^(n-i), summed exactly.
function reference(values, w) {
	const wf = frac(w);
	let num = [0n, 1n];
	let den = [0n, 1n];

	return values.map((y) => {
		if (!Number.isFinite(y))
			return y;
		num = add(mul(num, wf), frac(y));
		den = add(mul(den, wf), [1n, 1n]);
		return toDouble([num[0] * den[1], num[1] * den[0]]);
	});
}

// How many representable doubles lie between a and b.
function ulps(a, b) {
	const buf = new DataView(new ArrayBuffer(16));

	buf.setFloat64(0, a);
	buf.setFloat64(8, b);
	const ia = buf.getBigInt64(0);
	const ib = buf.getBigInt64(8);
	const ord = (i) => i < 0n ? -(i & 0x7fffffffffffffffn) : i;
	const d = ord(ia) - ord(ib);
	return Number(d < 0n ? -d : d);
}

function noisy(n, seed) {
	let x = seed;
	const out = [];

	for (let i = 0; i < n; i++) {
		x = (x * 1103515245 + 12345) % 2147483648;
		out.push(Math.exp(-i / 40) * 3 + (x / 2147483648 - 0.5));
	}
	return out;
}

// ---- smooth.js ----

test('smoothing follows its definition to rounding error', () => {
	for (const w of [0.01, 0.3, 0.6, 0.9, 0.99, MAX_WEIGHT]) {
		const ys = noisy(400, 7);
		const got = smooth(ys, w);
		const want = reference(ys, w);
		let scale = 0;
		got.forEach((v, i) => {
			// A mean of values up to `scale` in size, rounded
			// at each of i steps: the error is relative to
			// the values, not to a mean that may be near 0.
			scale = Math.max(scale, Math.abs(ys[i]));
			assert.ok(Math.abs(v - want[i]) <=
			    4 * (i + 1) * Number.EPSILON * scale, 'w ' + w +
			    ' at ' + i + ': ' + v + ' vs ' + want[i]);
		});
	}
	// Away from zero the match is to a few units in the last place.
	const ys = new Array(300).fill(0).map((x, i) => 2 + Math.sin(i));
	const got = smooth(ys, 0.9);
	reference(ys, 0.9).forEach((v, i) =>
	    assert.ok(ulps(got[i], v) <= 16, i + ': ' + got[i] + ' ' + v));
});

test('the first point is itself, and the TensorBoard form holds',
    () => {
	// With last = w*last + (1-w)*y and debiasing by 1 - w^n, two
	// points 1 then 0 at w = 0.5 give 1 and (0.25 / 0.75) = 1/3.
	assert.deepEqual(smooth([1, 0], 0.5), [1, 1 / 3]);
	for (const w of [0.1, 0.6, 0.95])
		assert.equal(smooth([0.7], w)[0], 0.7);
});

test('a constant series stays exactly constant', () => {
	const constants = [0.1, 1 / 3, -7.25, 123456.789, 1e-300, 5e-324,
		-0, 2 ** 60 + 2 ** 8, 0.30000000000000004];

	for (const c of constants) {
		for (const w of [0.001, 0.5, 0.6, 0.9, 0.97, 0.99,
		    MAX_WEIGHT]) {
			const out = smooth(new Array(2000).fill(c), w);
			out.forEach((v, i) => assert.ok(Object.is(v, c) ||
			    (v === c), 'c ' + c + ' w ' + w + ' at ' + i +
			    ': ' + v));
		}
	}
});

test('the unclamped formula would drift on a constant', () => {
	// Why the clamp is there: TensorBoard's arithmetic as written does
	// not give 0.1 back at every step.
	const w = 0.6;
	let last = 0;
	let drift = 0;

	for (let n = 1; n <= 200; n++) {
		last = w * last + (1 - w) * 0.1;
		if (last / (1 - Math.pow(w, n)) !== 0.1)
			drift++;
	}
	assert.ok(drift > 0);
});

test('smoothing stays within the range of the values seen', () => {
	const ys = noisy(1000, 3);
	const out = smooth(ys, 0.95);
	let lo = Infinity;
	let hi = -Infinity;

	ys.forEach((y, i) => {
		lo = Math.min(lo, y);
		hi = Math.max(hi, y);
		assert.ok(out[i] >= lo && out[i] <= hi);
	});
});

test('non-finite values pass through and stay out of the average', () => {
	const ys = [1, 2, NaN, 3, Infinity, -Infinity, 4];
	const out = smooth(ys, 0.6);
	const finite = smooth([1, 2, 3, 4], 0.6);

	assert.ok(Number.isNaN(out[2]));
	assert.equal(out[4], Infinity);
	assert.equal(out[5], -Infinity);
	assert.deepEqual([out[0], out[1], out[3], out[6]], finite);
	assert.deepEqual(smooth([undefined, 2, null], 0.5),
	    [undefined, 2, null]);
});

test('weight 0 is the raw series; weights outside [0, 0.999] throw',
    () => {
	const ys = [3, NaN, 1, 4, 1, 5];
	const out = smooth(ys, 0);

	assert.notEqual(out, ys);
	assert.deepEqual(out, ys);
	for (const w of [-0.1, 1, 1.5, NaN, '0.5x'])
		assert.throws(() => smooth(ys, w), RangeError);
	assert.deepEqual(smooth([], 0.9), []);
});

// ---- viewstate.js ----

const NAMES = ['a', 'run/with/slashes', 'two words', '100%', 'β-run',
	'模型 训练', 'emoji 🚀', 'amp&eq=hash#plus+comma,', 'quote"\'',
	'%2F', 'x'.repeat(128), 'é'.repeat(64), 'tab\u00a0nbsp'];

test('every valid name round-trips through the address bar', () => {
	const st = VS.defaults();

	st.runs = NAMES;
	st.metric = 'loss/π total';
	const hash = VS.format(st);
	assert.ok(!/[^A-Za-z0-9%#&=,.\-_!~*'()]/.test(hash), hash);
	assert.deepEqual(VS.parse(hash), st);
	assert.deepEqual(VS.parse(hash.slice(1)), st);
});

test('the whole view round-trips; defaults are left out', () => {
	const st = {
		runs: ['r1', 'r 2'], metric: 'total', smooth: 0.6,
		x: 'relative', y: 'log', zoom: [12.5, 1e21], contrib: 'shares',
	};

	assert.deepEqual(VS.parse(VS.format(st)), st);
	assert.equal(VS.format(VS.defaults()), '#');
	assert.equal(VS.format(Object.assign(VS.defaults(),
	    { runs: ['a,b'] })), '#runs=a%2Cb');
});

test('a mangled address keeps the defaults for what it cannot read',
    () => {
	const d = VS.defaults();

	assert.deepEqual(VS.parse(''), d);
	assert.deepEqual(VS.parse('#smooth=2&x=sideways&y=&zoom=5,1' +
	    '&contrib=maybe&metric=%E0%A4'), d);
	assert.deepEqual(VS.parse('#zoom=1,2,3&smooth=0x1'), d);
	assert.deepEqual(VS.parse('#runs=' + '%F0%9F'), d);
	// Too long, control characters, lone surrogates, empty: dropped.
	assert.deepEqual(VS.parse('#runs=' + 'x'.repeat(129) + ',a%09b,' +
	    '%ED%A0%80,,ok').runs, ['ok']);
	assert.deepEqual(VS.parse('#runs=a,b,a').runs, ['a', 'b']);
	assert.deepEqual(VS.parse('#run=old%20link').runs, ['old link']);
});

test('names follow the API rule: 1-128 bytes of UTF-8, no controls',
    () => {
	assert.ok(VS.validName('é'.repeat(64)));
	assert.ok(!VS.validName('é'.repeat(64) + 'x'));
	assert.ok(!VS.validName(''));
	assert.ok(!VS.validName('a\u0085b'));
	assert.ok(!VS.validName('\ud800'));
	assert.ok(VS.validName('🚀'.repeat(32)));
	assert.ok(!VS.validName('🚀'.repeat(32) + 'a'));
});

// ---- series.js ----

test('values from the API, and their exact text', () => {
	assert.equal(S.parseValue(0.1), 0.1);
	assert.equal(S.parseValue('Infinity'), Infinity);
	assert.equal(S.parseValue('-Infinity'), -Infinity);
	assert.ok(Number.isNaN(S.parseValue('NaN')));
	assert.ok(Number.isNaN(S.parseValue(null)));
	for (const v of [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.5])
		assert.equal(Number(S.exact(v)), v);
	assert.deepEqual([NaN, Infinity, -Infinity].map(S.exact),
	    ['NaN', 'Infinity', '-Infinity']);
	assert.deepEqual(S.fromAPI([[3, 'NaN', 1.5], [4, 2, 1.75]])
	    .map((p) => p.map(String)), [['3', 'NaN', '1.5'],
	    ['4', '2', '1.75']]);
});

test('the tail replaces the held points from its first step on', () => {
	const held = [[0, 1, 0], [5, 2, 0], [9, 3, 0]];

	assert.deepEqual(S.mergeTail(held, [[9, 4, 1], [10, 5, 1]], 9),
	    [[0, 1, 0], [5, 2, 0], [9, 4, 1], [10, 5, 1]]);
	assert.deepEqual(S.mergeTail(held, [], 20), held);
	assert.deepEqual(S.mergeTail([], [[1, 1, 1]], 1), [[1, 1, 1]]);
	assert.equal(held.length, 3);
});

test('a zoomed range\'s points replace the overview inside it', () => {
	const over = [[0, 0, 0], [10, 1, 0], [20, 2, 0], [30, 3, 0]];
	const detail = [[10, 1, 0], [11, 9, 0], [19, 8, 0]];

	assert.deepEqual(S.spliceDetail(over, detail, 10, 19),
	    [[0, 0, 0], [10, 1, 0], [11, 9, 0], [19, 8, 0], [20, 2, 0],
	    [30, 3, 0]]);
});

test('nearest and lowerBound find points by x', () => {
	const xs = [1, 3, 3, 7, 10];

	assert.equal(S.lowerBound(xs, 3), 1);
	assert.equal(S.lowerBound(xs, 11), 5);
	assert.equal(S.nearest(xs, 4.9), 2);
	assert.equal(S.nearest(xs, 5.1), 3);
	assert.equal(S.nearest(xs, -5), 0);
	assert.equal(S.nearest(xs, 50), 4);
	assert.equal(S.nearest([], 1), -1);
});

test('a zoom covers the held neighbours on either side', () => {
	const pts = [[0, 0, 100], [10, 0, 110], [20, 0, 120], [30, 0, 130]];
	const byTime = (p) => p[2];

	assert.deepEqual(S.stepRange(pts, byTime, 111, 125), [10, 30]);
	assert.deepEqual(S.stepRange(pts, byTime, 112, 118), [10, 20]);
	assert.deepEqual(S.stepRange(pts, byTime, 90, 95), [0, 0]);
	assert.deepEqual(S.stepRange(pts, byTime, 200, 300), [30, 30]);
	assert.equal(S.stepRange([], byTime, 0, 1), null);
});

test('contributions are weight times loss at the steps all terms have',
    () => {
	const mse = [[0, 2, 10], [1, 1, 11], [2, NaN, 12], [3, 0.5, 13]];
	const mae = [[0, 4, 10], [2, 3, 12], [3, 1, 13]];
	const r = S.contributions([mse, mae], [1, 0.5]);

	assert.deepEqual(r.steps, [0, 2, 3]);
	assert.deepEqual(r.times, [10, 12, 13]);
	assert.deepEqual(r.parts[0].map(String), ['2', 'NaN', '0.5']);
	assert.deepEqual(r.parts[1], [2, 1.5, 0.5]);
	assert.deepEqual(S.stack(r.parts, false), [[2, null, 0.5],
	    [4, null, 1]]);
	assert.deepEqual(S.stack(r.parts, true), [[50, null, 50],
	    [100, null, 100]]);
	assert.deepEqual(S.stack([[1, -1], [0, 1]], true),
	    [[100, null], [100, null]]);
});

test('value ranges look only at the x range, positives on a log axis',
    () => {
	const s = { xs: [0, 1, 2, 3], ys: [5, -2, undefined, 0.5] };

	assert.deepEqual(S.valueRange([s], null, null, false), [-2, 5]);
	assert.deepEqual(S.valueRange([s], 1, 3, false), [-2, 0.5]);
	assert.deepEqual(S.valueRange([s], null, null, true), [0.5, 5]);
	assert.equal(S.valueRange([s], 1, 2, true), null);
	assert.deepEqual(S.padRange([2, 2], false), [1.8, 2.2]);
	assert.deepEqual(S.padRange([0, 0], false), [-1, 1]);
	const [lo, hi] = S.padRange([1, 100], true);
	assert.ok(lo < 1 && lo > 0 && hi > 100);
});

test('durations read as a person would say them', () => {
	assert.equal(S.duration(0.25), '0.25s');
	assert.equal(S.duration(42.26), '42.3s');
	assert.equal(S.duration(250), '4m 10s');
	assert.equal(S.duration(3 * 3600 + 5 * 60), '3h 05m');
	assert.equal(S.duration(2 * 86400 + 3600), '2d 01h');
	assert.equal(S.duration(-90), '-1m 30s');
});

test('CSV quotes what needs it and ends lines with CRLF', () => {
	assert.equal(S.csv([['a', 'b,c', 'say "hi"', ' pad', 'ok']]),
	    'a,"b,c","say ""hi"""," pad",ok\r\n');
	assert.equal(S.csv([['模型 π', 1.5, 'NaN']]),
	    '模型 π,1.5,NaN\r\n');
	assert.equal(S.csv([]), '');
});
