/*
 * The view as the address bar holds it, so that a link reproduces it:
 *
 *	#runs=NAME,NAME&metric=NAME&smooth=0.6&x=step&y=log&zoom=LO,HI
 *	    &contrib=stacked
 *
 * Every name is written with encodeURIComponent, which also encodes ",",
 * "&", "=", "#", "%" and "+", so any name (slashes, spaces, non-Latin
 * letters) comes back byte for byte. Parts left at their default are
 * left out. The older form #run=NAME (one run) is still read.
 *
 * parse() never throws: a part it cannot read is dropped and the default
 * kept, so a mangled link still opens a page.
 *
 * Loaded by index.html as a plain script (window.LossmonViewState) and
 * by the unit tests under node (module.exports).
 */
(function (root) {
	'use strict';

	const X_MODES = ['step', 'relative', 'wall'];
	const Y_MODES = ['linear', 'log'];
	const CONTRIB_MODES = ['off', 'stacked', 'shares'];
	const MAX_SMOOTH = 0.999;
	const NAME_MAX = 128;

	function defaults() {
		return {
			runs: [],
			metric: '',
			smooth: 0,
			x: 'step',
			y: 'linear',
			zoom: null,
			contrib: 'off',
		};
	}

	/* The API's rule for names: 1 to 128 bytes of UTF-8 without
	 * control characters. A JS string from decodeURIComponent is valid
	 * UTF-16 unless it holds a lone surrogate. */
	function validName(s) {
		if (typeof s !== 'string' || s.length === 0)
			return false;
		if (/[\u0000-\u001f\u007f-\u009f]/.test(s))
			return false;
		if (/[\ud800-\udbff](?![\udc00-\udfff])/.test(s) ||
		    /(^|[^\ud800-\udbff])[\udc00-\udfff]/.test(s))
			return false;
		return utf8Length(s) <= NAME_MAX;
	}

	function utf8Length(s) {
		let n = 0;

		for (const ch of s) {
			const c = ch.codePointAt(0);
			n += c < 0x80 ? 1 : c < 0x800 ? 2 :
			    c < 0x10000 ? 3 : 4;
		}
		return n;
	}

	function decode(s) {
		try {
			return decodeURIComponent(s);
		} catch (e) {
			return null;
		}
	}

	/* A number written by format(): plain decimal, finite. */
	function number(s) {
		if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s))
			return null;
		const v = Number(s);
		return Number.isFinite(v) ? v : null;
	}

	function parseRuns(value, into) {
		for (const part of value.split(',')) {
			const name = decode(part);
			if (validName(name) && !into.includes(name))
				into.push(name);
		}
	}

	function parseZoom(value) {
		const parts = value.split(',');

		if (parts.length !== 2)
			return null;
		const lo = number(parts[0]);
		const hi = number(parts[1]);
		if (lo === null || hi === null || !(lo < hi))
			return null;
		return [lo, hi];
	}

	/* hash: location.hash, with or without its "#". */
	function parse(hash) {
		const st = defaults();
		let text = String(hash || '');

		if (text[0] === '#')
			text = text.slice(1);
		for (const part of text.split('&')) {
			const eq = part.indexOf('=');
			if (eq < 0)
				continue;
			const key = part.slice(0, eq);
			const value = part.slice(eq + 1);
			if (key === 'runs' || key === 'run') {
				parseRuns(value, st.runs);
			} else if (key === 'metric') {
				const m = decode(value);
				if (validName(m))
					st.metric = m;
			} else if (key === 'smooth') {
				const w = number(value);
				if (w !== null && w >= 0 && w <= MAX_SMOOTH)
					st.smooth = w;
			} else if (key === 'x' && X_MODES.includes(value)) {
				st.x = value;
			} else if (key === 'y' && Y_MODES.includes(value)) {
				st.y = value;
			} else if (key === 'zoom') {
				st.zoom = parseZoom(value);
			} else if (key === 'contrib' &&
			    CONTRIB_MODES.includes(value)) {
				st.contrib = value;
			}
		}
		return st;
	}

	/* Returns the hash, "#" included; "#" alone for the default view. */
	function format(st) {
		const d = defaults();
		const parts = [];

		if (st.runs && st.runs.length)
			parts.push('runs=' +
			    st.runs.map(encodeURIComponent).join(','));
		if (st.metric)
			parts.push('metric=' + encodeURIComponent(st.metric));
		if (st.smooth !== d.smooth)
			parts.push('smooth=' + String(st.smooth));
		if (st.x !== d.x)
			parts.push('x=' + st.x);
		if (st.y !== d.y)
			parts.push('y=' + st.y);
		if (st.zoom)
			parts.push('zoom=' + String(st.zoom[0]) + ',' +
			    String(st.zoom[1]));
		if (st.contrib !== d.contrib)
			parts.push('contrib=' + st.contrib);
		return '#' + parts.join('&');
	}

	const api = Object.freeze({
		parse, format, defaults, validName, utf8Length,
		X_MODES, Y_MODES, CONTRIB_MODES, MAX_SMOOTH,
	});

	if (typeof module === 'object' && module.exports)
		module.exports = api;
	else
		root.LossmonViewState = api;
})(typeof globalThis === 'object' ? globalThis : this);
