/*
 * lossmon dashboard: a table of runs, and for the runs chosen in it one
 * uPlot chart per metric (each loss term, the weighted total, each
 * scalar) with a line per run and split, each run one colour across the
 * charts; optionally, per run, how much each weighted loss term makes of
 * the total.
 *
 * The view (runs, metric, smoothing, axes, zoom) lives in the address
 * bar (viewstate.js), so a link reproduces it. Smoothing is in smooth.js
 * and the pure series helpers in series.js.
 *
 * Data: a series (run, metric, split) is fetched downsampled to about
 * the chart's width in CSS pixels (the server keeps each bucket's first,
 * last, smallest and largest point and its first non-finite one). Only
 * charts on or near the screen fetch. Every half second the chosen runs
 * are polled; when a run changed, each series it shows fetches only the
 * points from its newest step on (inclusive: that step may still be
 * accumulating batches) and merges them in. When the appended points
 * outgrow the chart, the series is fetched downsampled again. A zoom
 * asks the server for the zoomed range at the chart's width, so zooming
 * in far enough gives every point; the same view gives the same
 * requests and so the same points on every reload.
 *
 * JSON has no NaN or Infinity: the API sends "NaN", "Infinity" and
 * "-Infinity". Such a point is left out of its line, which joins its
 * neighbours, and marked where it happened by a dashed line and a
 * labelled triangle in the run's colour.
 *
 * Test hook (read-only; nothing in the page reads it back):
 *   window.lossmon.view		a copy of the view (viewstate.js)
 *   window.lossmon.refreshes	polling rounds finished
 *   window.lossmon.historyRequests	history requests sent
 *   window.lossmon.rows		the run table's shown rows, in order:
 *					{ name, chosen, colour }
 *   window.lossmon.charts		one entry per metric chart drawn:
 *     { metric, kind, width, xRange, yRange, log, nonFinite: [{ run,
 *       split, step, value }], lines: [{ run, split, colour, dash,
 *       rawAlpha, steps, xs, values, smoothed, drawn, rawDrawn, gaps }] }
 *     steps, xs, values and smoothed are copies of what was handed to
 *     uPlot, in drawing order; values and smoothed hold numbers, or the
 *     API's strings for non-finite values; drawn counts the points of
 *     the line on top (the smoothed one when smoothing) given to uPlot
 *     (finite, and positive on a log axis), rawDrawn those of the raw
 *     line, drawn with opacity rawAlpha; gaps counts the breaks in the
 *     raw line (values a log axis cannot show).
 *   window.lossmon.contributions	one entry per contributions chart:
 *     { run, split, mode, steps, nonFinite: [{ step, value }], terms:
 *       [{ name, weight, parts, layer }] } with parts the weighted
 *     losses and layer the stacked values drawn (null for a gap).
 */
'use strict';

(function () {
	const Smooth = window.LossmonSmooth;
	const ViewState = window.LossmonViewState;
	const Series = window.LossmonSeries;

	const API = 'api/v1';
	const TICK_MS = 500;
	/* The whole run list is fetched every LIST_EVERY rounds; in the
	 * others only the chosen runs, one by one, unless they are many. */
	const LIST_EVERY = 4;
	const FEW_RUNS = 8;
	const CHART_HEIGHT = 240;
	const FOCUS_HEIGHT = 420;
	/* Height of the row above each plot that marks non-finite values. */
	const MARK_ROW = 18;
	/* Above this many held points per fetched point, fetch again. */
	const MAX_GROWTH = 3;
	/* Loss terms are fetched this much denser for the contributions:
	 * only the bucket edges are shared by all terms. */
	const CONTRIB_DENSITY = 3;
	const MAX_OVERLAY_SHOWN = 50;
	const AXIS_ROOM = 80;
	/* Up to this many lines in all, every chart fetches, on screen or
	 * not; beyond, only those on or near the screen. */
	const EAGER_LINES = 64;
	const MAX_NONFINITE_LISTED = 6;
	const MAX_MARK_LABELS = 12;

	/* Okabe and Ito's colours, told apart with the common colour-vision
	 * deficiencies; yellow is kept for dark backgrounds and a grey
	 * takes its place on light ones. Beyond eight runs they repeat. */
	const PALETTE = {
		light: ['#0072B2', '#D55E00', '#009E73', '#CC79A7',
			'#E69F00', '#56B4E9', '#000000', '#7A7A7A'],
		dark: ['#56B4E9', '#E69F00', '#009E73', '#CC79A7',
			'#F0E442', '#D55E00', '#FFFFFF', '#A0A0A0'],
	};
	/* Splits are told apart by dashes, runs by colour. */
	const SPLIT_SLOT = {
		train: 0, training: 0,
		val: 1, valid: 1, validation: 1, eval: 1, dev: 1,
		test: 2,
	};
	const DASHES = [null, [7, 4], [2, 3], [9, 3, 2, 3]];
	const X_LABEL = {
		step: 'step',
		relative: 'time since the run was created',
		wall: 'wall time',
	};

	const $ = (id) => document.getElementById(id);
	const dom = {
		status: $('status'),
		tokenForm: $('token-form'),
		token: $('token'),
		theme: $('theme'),
		filter: $('filter'),
		runCount: $('run-count'),
		chooseShown: $('choose-shown'),
		clearChosen: $('clear-chosen'),
		table: $('run-table'),
		tbody: $('run-rows'),
		metric: $('metric'),
		xMode: $('x-mode'),
		yMode: $('y-mode'),
		smooth: $('smooth'),
		smoothNum: $('smooth-num'),
		contrib: $('contrib'),
		resetZoom: $('reset-zoom'),
		zoomText: $('zoom-text'),
		view: $('view'),
		placeholder: $('placeholder'),
		contribCharts: $('contrib-charts'),
		charts: $('charts'),
	};
	const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

	const state = {
		runs: [],
		byName: new Map(),
		loadedRuns: false,
		view: ViewState.defaults(),
		rows: new Map(),	/* run name -> table row */
		sort: { key: 'name', dir: 1 },
		metrics: new Map(),	/* run name -> its metrics */
		series: new Map(),	/* key -> series */
		charts: new Map(),	/* metric -> chart */
		contribs: new Map(),	/* run name -> contributions chart */
		order: '',
		ids: 0,
		defaulted: false,
		refreshes: 0,
		historyRequests: 0,
		timer: null,
		busy: false,
		again: false,
		observer: null,
	};

	/* ---- small helpers ---- */

	function el(tag, className, text) {
		const e = document.createElement(tag);

		if (className)
			e.className = className;
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	/* Short text of a value for tables and axes; Series.exact() gives
	 * the exact one. */
	function fmt(v) {
		if (typeof v !== 'number')
			return '—';
		if (!Number.isFinite(v))
			return Series.exact(v);
		if (v === 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6))
			return String(Number(v.toPrecision(5)));
		return v.toExponential(3).replace(/\.?0+e/, 'e');
	}

	/* An axis label; uPlot passes null for ticks left unlabelled. */
	function tick3(v) {
		if (v === null || v === undefined)
			return '';
		if (v === 0)
			return '0';
		if (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6)
			return String(Number(v.toPrecision(6)));
		return v.toExponential(2).replace(/\.?0+e/, 'e');
	}

	function pad2(n) {
		return String(n).padStart(2, '0');
	}

	/* Local wall time with milliseconds: 2026-12-03 13:20:53.044 */
	function wallText(unix) {
		const d = new Date(unix * 1000);

		return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' +
		    pad2(d.getDate()) + ' ' + pad2(d.getHours()) + ':' +
		    pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) + '.' +
		    String(d.getMilliseconds()).padStart(3, '0');
	}

	function setStatus(text, bad) {
		if (dom.status.textContent !== text)
			dom.status.textContent = text;
		dom.status.classList.toggle('bad', Boolean(bad));
	}

	function runPath(name) {
		return API + '/runs/' + encodeURIComponent(name);
	}

	/*
	 * The read token, when the daemon wants one: asked for once on a
	 * 401, kept for this tab only (sessionStorage), sent as a bearer
	 * token with every request of the API.
	 */
	const TOKEN_KEY = 'lossmon-read-token';
	let memoryToken = null;

	function readToken() {
		try {
			return sessionStorage.getItem(TOKEN_KEY);
		} catch (e) {
			return null;
		}
	}

	function askForToken() {
		if (!dom.tokenForm.hidden)
			return;
		dom.tokenForm.hidden = false;
		dom.token.focus();
	}

	dom.tokenForm.addEventListener('submit', (ev) => {
		ev.preventDefault();
		try {
			sessionStorage.setItem(TOKEN_KEY, dom.token.value.trim());
		} catch (e) {
			/* Storage refused: the token lasts until a reload. */
			memoryToken = dom.token.value.trim();
		}
		dom.token.value = '';
		dom.tokenForm.hidden = true;
	});

	/* Resolves to the parsed body; rejects with an Error carrying the
	 * API's message and the HTTP status. */
	async function getJSON(path) {
		const token = readToken() || memoryToken;
		const headers = { Accept: 'application/json' };

		if (token)
			headers.Authorization = 'Bearer ' + token;
		const res = await fetch(path, {
			headers: headers,
			cache: 'no-store',
		});
		let body = null;

		try {
			body = await res.json();
		} catch (e) {
			body = null;
		}
		if (res.status === 401)
			askForToken();
		if (!res.ok) {
			const api = body && body.error ? body.error : {};
			const err = new Error(api.message ||
			    'HTTP ' + res.status);
			err.status = res.status;
			throw err;
		}
		return body;
	}

	function pairs(obj) {
		return Object.keys(obj || {}).map((k) => k + '=' +
		    (typeof obj[k] === 'string' ? obj[k] :
		    JSON.stringify(obj[k])));
	}

	function lossText(loss) {
		const skip = new Set(['name', 'type', 'weight']);
		const params = Object.keys(loss).filter((k) => !skip.has(k))
		    .map((k) => k + '=' + loss[k]);
		let s = loss.name + ' × ' + loss.weight;

		if (loss.type !== loss.name)
			s += ' (' + loss.type + ')';
		if (params.length)
			s += ' [' + params.join(', ') + ']';
		return s;
	}

	function themeName() {
		const t = document.documentElement.dataset.theme;

		if (t === 'light' || t === 'dark')
			return t;
		return darkQuery.matches ? 'dark' : 'light';
	}

	function theme() {
		const css = getComputedStyle(document.documentElement);
		const v = (name) => css.getPropertyValue(name).trim();

		return {
			name: themeName(),
			text: v('--text'),
			muted: v('--muted'),
			grid: v('--grid'),
			panel: v('--panel'),
		};
	}

	function runColour(name) {
		const i = state.view.runs.indexOf(name);
		const pal = PALETTE[themeName()];

		return i < 0 ? null : pal[i % pal.length];
	}

	function splitSlot(split) {
		return SPLIT_SLOT[split] ?? 3;
	}

	function splitDash(split) {
		return DASHES[splitSlot(split)];
	}

	/* ---- the address bar ---- */

	function writeHash() {
		const hash = ViewState.format(state.view);

		if (location.hash === hash || (hash === '#' && !location.hash))
			return;
		history.replaceState(null, '', hash === '#' ?
		    location.pathname + location.search : hash);
	}

	function sameList(a, b) {
		return a.length === b.length && a.every((x, i) => x === b[i]);
	}

	/* Takes the view from the address bar; true when it changed. */
	function readHash() {
		const next = ViewState.parse(location.hash);
		const cur = state.view;
		const changed = !sameList(next.runs, cur.runs) ||
		    next.metric !== cur.metric || next.smooth !== cur.smooth ||
		    next.x !== cur.x || next.y !== cur.y ||
		    next.contrib !== cur.contrib ||
		    String(next.zoom) !== String(cur.zoom);

		state.view = next;
		return changed;
	}

	/* ---- the run table ---- */

	function runHaystack(run) {
		return [run.name]
		    .concat((run.losses || []).map((l) => l.name + ' ' +
		    l.type))
		    .concat(pairs(run.tags), pairs(run.params))
		    .join(' ').toLowerCase();
	}

	function runMatches(run, words) {
		const hay = runHaystack(run);

		return words.every((w) => hay.includes(w));
	}

	/* The split a run's totals are sorted and summed up by. */
	function mainSplit(totals) {
		const keys = Object.keys(totals || {});

		if (keys.includes('train'))
			return 'train';
		return keys.sort()[0];
	}

	function totalOf(run, which) {
		const t = run.totals || {};
		const split = mainSplit(t);
		const v = split ? t[split][which] : null;

		return typeof v === 'number' ? v : null;
	}

	function sortValue(run, key) {
		if (key === 'step')
			return run.last_step ?? -1;
		if (key === 'updated')
			return run.last_time ?? run.created;
		if (key === 'last')
			return totalOf(run, 'last');
		if (key === 'best')
			return totalOf(run, 'best');
		return null;
	}

	function compareRuns(a, b) {
		const { key, dir } = state.sort;

		if (key !== 'name') {
			const va = sortValue(a, key);
			const vb = sortValue(b, key);
			/* Runs without a value go last either way. */
			if (va === null && vb !== null)
				return 1;
			if (vb === null && va !== null)
				return -1;
			if (va !== vb)
				return (va < vb ? -1 : 1) * dir;
		}
		return (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) *
		    (key === 'name' ? dir : 1);
	}

	function totalsCell(td, run, which) {
		const t = run.totals || {};
		const splits = Object.keys(t).sort((a, b) =>
		    splitSlot(a) - splitSlot(b) || (a < b ? -1 : 1));

		td.replaceChildren();
		if (!splits.length) {
			td.textContent = '—';
			return;
		}
		for (const split of splits) {
			const o = t[split];
			const v = Series.parseValue(o[which]);
			const line = el('span', 'total-line');
			let text = split + ' ' + (o[which] === null ? '—' :
			    fmt(v));

			if (which === 'best' && o.best_step !== null)
				text += ' @' + o.best_step;
			else if (which === 'last')
				text += ' @' + o.last_step;
			line.textContent = text;
			if (o[which] !== null)
				line.title = split + ': ' + Series.exact(v);
			td.append(line);
		}
	}

	function makeRow(name) {
		const tr = el('tr');
		const pick = el('td', 'pick');
		const box = el('input');
		const swatch = el('span', 'swatch');
		const nameCell = el('th', 'name');
		const link = el('a', 'run-link');

		box.type = 'checkbox';
		box.setAttribute('aria-label', 'Overlay ' + name);
		box.dataset.run = name;
		pick.append(box, swatch);
		nameCell.scope = 'row';
		link.textContent = name;
		link.dataset.run = name;
		nameCell.append(link);
		tr.append(pick, nameCell);
		for (const c of ['losses', 'params', 'tags', 'num step',
		    'num last', 'num best'])
			tr.append(el('td', c));
		return { tr, box, swatch, link, sig: '' };
	}

	function fillRow(row, run) {
		const cells = row.tr.children;
		const losses = (run.losses || []).map((l) => l.name + '×' +
		    l.weight).join(' + ');
		const tags = cells[4];

		cells[2].textContent = losses;
		cells[2].title = (run.losses || []).map(lossText).join(' + ');
		cells[3].textContent = pairs(run.params).join(', ');
		tags.replaceChildren();
		for (const t of pairs(run.tags))
			tags.append(el('span', 'tag', t), ' ');
		cells[5].textContent = run.last_step ?? '—';
		if (run.last_time)
			cells[5].title = 'last post ' +
			    wallText(run.last_time);
		totalsCell(cells[6], run, 'last');
		totalsCell(cells[7], run, 'best');
	}

	/* Updates the table in place, so focus and hover survive a poll. */
	function renderTable() {
		const words = dom.filter.value.toLowerCase().split(/\s+/)
		    .filter(Boolean);
		const runs = state.runs.slice().sort(compareRuns);
		let prev = null;
		let shown = 0;

		for (const run of runs) {
			let row = state.rows.get(run.name);
			const sig = JSON.stringify(run);

			if (!row) {
				row = makeRow(run.name);
				state.rows.set(run.name, row);
			}
			if (row.sig !== sig) {
				fillRow(row, run);
				row.sig = sig;
			}
			const at = prev ? prev.nextSibling :
			    dom.tbody.firstChild;
			if (at !== row.tr)
				dom.tbody.insertBefore(row.tr, at);
			row.tr.hidden = !runMatches(run, words);
			if (!row.tr.hidden)
				shown++;
			prev = row.tr;
		}
		for (const [name, row] of state.rows) {
			if (!state.byName.has(name)) {
				row.tr.remove();
				state.rows.delete(name);
			}
		}
		renderChosen();
		if (shown === state.runs.length)
			dom.runCount.textContent = shown +
			    (shown === 1 ? ' run' : ' runs');
		else
			dom.runCount.textContent = shown + ' of ' +
			    state.runs.length + ' runs match';
		for (const th of dom.table.querySelectorAll('th[data-sort]')) {
			const on = th.dataset.sort === state.sort.key;
			const dir = state.sort.dir > 0 ? 'ascending' :
			    'descending';
			if (on)
				th.setAttribute('aria-sort', dir);
			else
				th.removeAttribute('aria-sort');
		}
	}

	/* The chosen runs' boxes, colours and links. */
	function renderChosen() {
		for (const [name, row] of state.rows) {
			const colour = runColour(name);
			const only = Object.assign({}, state.view,
			    { runs: [name], zoom: null });

			row.box.checked = colour !== null;
			row.tr.classList.toggle('chosen', colour !== null);
			row.swatch.style.background = colour || 'transparent';
			row.link.href = ViewState.format(only);
			if (colour !== null && state.view.runs.length === 1)
				row.link.setAttribute('aria-current', 'page');
			else
				row.link.removeAttribute('aria-current');
		}
	}

	function shownRows() {
		return Array.from(dom.tbody.children)
		    .filter((tr) => !tr.hidden);
	}

	/* Arrow keys walk the rows, keeping the column. */
	function onTableKey(ev) {
		const rows = shownRows();
		const tr = ev.target.closest('tr');
		const i = rows.indexOf(tr);
		let next = null;

		if (i < 0 || !(ev.target.matches('input, a')))
			return;
		if (ev.key === 'ArrowDown')
			next = rows[i + 1];
		else if (ev.key === 'ArrowUp')
			next = rows[i - 1];
		else if (ev.key === 'Home' && ev.ctrlKey)
			next = rows[0];
		else if (ev.key === 'End' && ev.ctrlKey)
			next = rows[rows.length - 1];
		if (!next) {
			if (ev.key === 'ArrowUp' && i === 0) {
				ev.preventDefault();
				dom.filter.focus();
			}
			return;
		}
		ev.preventDefault();
		next.querySelector(ev.target.matches('input') ? 'input' : 'a')
		    .focus();
	}

	function onFilterKey(ev) {
		const rows = shownRows();

		if (ev.key === 'ArrowDown' && rows.length) {
			ev.preventDefault();
			rows[0].querySelector('input').focus();
		}
	}

	function setChosen(runs) {
		if (!dom.status.classList.contains('bad'))
			setStatus('');
		state.view.runs = runs;
		state.view.zoom = null;
		writeHash();
		viewChanged();
	}

	function onBoxChange(ev) {
		const name = ev.target.dataset.run;
		const runs = state.view.runs.filter((r) => r !== name);

		if (ev.target.checked)
			runs.push(name);
		setChosen(runs);
	}

	function chooseShown() {
		const names = shownRows().map((tr) =>
		    tr.querySelector('input').dataset.run);
		const runs = state.view.runs.slice();

		for (const n of names) {
			if (runs.length >= MAX_OVERLAY_SHOWN)
				break;
			if (!runs.includes(n))
				runs.push(n);
		}
		setChosen(runs);
		if (names.some((n) => !runs.includes(n)))
			setStatus('Overlaid the first ' + MAX_OVERLAY_SHOWN +
			    ' runs; narrow the filter to pick others.');
	}

	function onSortClick(ev) {
		const th = ev.target.closest('th[data-sort]');

		if (!th)
			return;
		const key = th.dataset.sort;
		/* Names and losses go up first, steps and times down. */
		const first = key === 'step' || key === 'updated' ? -1 : 1;

		if (state.sort.key === key)
			state.sort.dir = -state.sort.dir;
		else
			state.sort = { key, dir: first };
		renderTable();
	}

	/* Opened with no run in the address bar, show the one updated
	 * last; once chosen or cleared, the choice is the person's. */
	function chooseDefaultRun() {
		let best = null;

		if (state.defaulted || !state.runs.length)
			return;
		state.defaulted = true;
		if (state.view.runs.length)
			return;
		for (const run of state.runs) {
			if (!best || (run.last_time || run.created) >
			    (best.last_time || best.created))
				best = run;
		}
		state.view.runs = [best.name];
		writeHash();
		renderChosen();
	}

	/* ---- series: fetching and merging ---- */

	function seriesKey(kind, run, metric, split) {
		return [kind, run, metric, split].join('\0');
	}

	function getSeries(kind, run, m) {
		const key = seriesKey(kind, run, m.name, m.split);
		let s = state.series.get(key);

		if (!s) {
			s = {
				key, run, metric: m.name, split: m.split,
				kind: m.kind, overview: [], loaded: false,
				lastStep: null, firstStep: null,
				seenTime: null,
				maxPoints: 0, detail: null, meta: m,
			};
			state.series.set(key, s);
		}
		s.meta = m;
		return s;
	}

	function historyURL(s, from, to, maxPoints) {
		const q = new URLSearchParams({
			metric: s.metric,
			split: s.split,
			max_points: String(maxPoints),
		});

		if (from !== null)
			q.set('from', String(from));
		if (to !== null)
			q.set('to', String(to));
		state.historyRequests++;
		return runPath(s.run) + '/history?' + q;
	}

	/* Whether a series must fetch all of it ('full'), its newest
	 * points ('tail') or nothing (null) to show width points. */
	function seriesNeed(s, width) {
		const m = s.meta;
		const run = state.byName.get(s.run);

		if (!m || !run)
			return null;
		if (!s.loaded ||
		    s.overview.length > MAX_GROWTH * s.maxPoints ||
		    width > 1.5 * s.maxPoints || width < s.maxPoints ||
		    m.first_step !== s.firstStep || m.last_step < s.lastStep)
			return 'full';
		if (m.last_step !== s.lastStep || run.last_time !== s.seenTime)
			return 'tail';
		return null;
	}

	async function fetchFull(s, width) {
		const run = state.byName.get(s.run);
		const m = s.meta;
		const body = await getJSON(historyURL(s, null, null, width));
		const pts = Series.fromAPI(body.points);

		s.overview = pts;
		s.loaded = true;
		s.maxPoints = width;
		s.firstStep = m.first_step;
		s.lastStep = pts.length ? pts[pts.length - 1][0] : null;
		s.seenTime = run ? run.last_time : null;
		s.detail = null;
		return true;
	}

	async function fetchTail(s) {
		const run = state.byName.get(s.run);
		const from = s.lastStep;
		const seen = run ? run.last_time : null;
		const body = await getJSON(historyURL(s, from, null,
		    s.maxPoints));
		const pts = Series.fromAPI(body.points);
		const old = s.overview.slice(Series.lowerBound(
		    s.overview.map((p) => p[0]), from));
		const same = old.length === pts.length && old.every((p, i) =>
		    p[0] === pts[i][0] && Object.is(p[1], pts[i][1]) &&
		    p[2] === pts[i][2]);

		s.seenTime = seen;
		if (same)
			return false;
		s.overview = Series.mergeTail(s.overview, pts, from);
		if (pts.length)
			s.lastStep = pts[pts.length - 1][0];
		if (s.detail && from <= s.detail.hi)
			s.detail.points = Series.mergeTail(s.detail.points,
			    pts.filter((p) => p[0] <= s.detail.hi), from);
		return true;
	}

	async function fetchDetail(s, range, key, width) {
		const body = await getJSON(historyURL(s, range[0], range[1],
		    width));

		s.detail = {
			key, lo: range[0], hi: range[1], width,
			points: Series.fromAPI(body.points),
		};
		return true;
	}

	/* The points a series shows: the zoomed range's own points when
	 * they are for the current zoom, held ones elsewhere. */
	function shownPoints(s) {
		const d = s.detail;

		if (d && d.key === zoomKey())
			return Series.spliceDetail(s.overview, d.points, d.lo,
			    d.hi);
		return s.overview;
	}

	function zoomKey() {
		const z = state.view.zoom;

		return z ? state.view.x + ':' + z[0] + ',' + z[1] : '';
	}

	function xOf(run, mode) {
		const created = run ? run.created : 0;

		if (mode === 'relative')
			return (p) => p[2] - created;
		if (mode === 'wall')
			return (p) => p[2];
		return (p) => p[0];
	}

	/* The steps a zoom covers in a series. */
	function zoomSteps(s) {
		const z = state.view.zoom;

		if (state.view.x === 'step')
			return [Math.max(0, Math.floor(z[0])),
			    Math.ceil(z[1])];
		return Series.stepRange(s.overview,
		    xOf(state.byName.get(s.run), state.view.x), z[0], z[1]);
	}

	/* Brings a series up to date for a chart width points wide;
	 * resolves to whether what it shows changed. */
	async function syncSeries(s, width) {
		const need = seriesNeed(s, width);
		let changed = false;

		if (need === 'full')
			changed = await fetchFull(s, width);
		else if (need === 'tail')
			changed = await fetchTail(s);
		if (state.view.zoom && s.loaded && (!s.detail ||
		    s.detail.key !== zoomKey() || s.detail.width !== width)) {
			const range = s.zoomRange ? s.zoomRange() :
			    zoomSteps(s);
			if (range && await fetchDetail(s, range, zoomKey(),
			    width))
				changed = true;
		}
		return changed;
	}

	function dropRunSeries(name) {
		for (const [key, s] of state.series) {
			if (s.run === name)
				state.series.delete(key);
		}
	}

	/* Fetches a chosen run's list of metrics when the run changed;
	 * resolves to whether the list changed. */
	async function refreshMetrics(name) {
		const run = state.byName.get(name);
		const info = state.metrics.get(name);

		if (!run)
			return false;
		if (info && info.created === run.created &&
		    info.lastTime === run.last_time &&
		    info.lastStep === run.last_step)
			return false;
		const body = await getJSON(runPath(name) + '/metrics');
		if (info && info.created !== run.created)
			dropRunSeries(name);
		const list = body.metrics || [];
		const sig = JSON.stringify(list.map((m) => [m.name, m.split,
		    m.kind]));
		state.metrics.set(name, {
			created: run.created,
			lastTime: run.last_time,
			lastStep: run.last_step,
			list, sig,
		});
		for (const s of state.series.values()) {
			if (s.run === name)
				s.meta = list.find((m) =>
				    m.name === s.metric &&
				    m.split === s.split) || null;
		}
		return !info || info.sig !== sig;
	}

	/* ---- which charts ---- */

	function kindRank(kind) {
		return { total: 0, loss: 1, scalar: 2 }[kind] ?? 3;
	}

	/* Every metric of the chosen runs: total first, then the loss
	 * terms in the first run's order, then the scalars by name. */
	function allMetrics() {
		const kinds = new Map();
		const terms = [];

		for (const name of state.view.runs) {
			const info = state.metrics.get(name);
			const run = state.byName.get(name);
			if (!info || !run)
				continue;
			for (const l of run.losses || []) {
				if (!terms.includes(l.name))
					terms.push(l.name);
			}
			for (const m of info.list) {
				if (!kinds.has(m.name))
					kinds.set(m.name, m.kind);
			}
		}
		const rank = (m) => terms.includes(m) ? terms.indexOf(m) :
		    terms.length;
		const names = Array.from(kinds.keys()).sort((a, b) =>
		    kindRank(kinds.get(a)) - kindRank(kinds.get(b)) ||
		    rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
		return names.map((n) => ({ name: n, kind: kinds.get(n) }));
	}

	function fillMetricSelect(metrics) {
		const want = ['', ...metrics.map((m) => m.name)];
		const have = Array.from(dom.metric.options)
		    .map((o) => o.value);

		if (state.view.metric && !want.includes(state.view.metric))
			want.push(state.view.metric);
		if (!sameList(want, have)) {
			dom.metric.replaceChildren();
			for (const v of want) {
				const o = el('option', null,
				    v || 'All metrics');
				o.value = v;
				dom.metric.append(o);
			}
		}
		dom.metric.value = state.view.metric;
	}

	/* The lines of a metric chart: each chosen run's splits of it. */
	function chartLines(metric) {
		const lines = [];

		state.view.runs.forEach((name) => {
			const info = state.metrics.get(name);
			if (!info || !state.byName.has(name))
				return;
			const ms = info.list.filter((m) => m.name === metric)
			    .sort((a, b) => splitSlot(a.split) -
			    splitSlot(b.split) ||
			    (a.split < b.split ? -1 : 1));
			for (const m of ms)
				lines.push(getSeries('m', name, m));
		});
		return lines;
	}

	function chartSubtitle(metric, kind) {
		const seen = new Set();

		if (kind === 'total')
			return 'weighted sum of the loss terms';
		if (kind === 'scalar')
			return 'scalar';
		for (const name of state.view.runs) {
			const run = state.byName.get(name);
			const l = run && (run.losses || [])
			    .find((t) => t.name === metric);
			if (l)
				seen.add(lossText(l));
		}
		if (seen.size === 1)
			return 'loss term ' + Array.from(seen)[0];
		return 'loss term; weights differ between runs';
	}

	function hoverTable(cols) {
		const wrap = el('div', 'hover');
		const table = el('table', 'hover-table');
		const head = el('tr');

		for (const c of cols)
			head.append(el('th', null, c));
		table.append(el('thead'), el('tbody'));
		table.tHead.append(head);
		wrap.append(table);
		return { wrap, body: table.tBodies[0] };
	}

	function downloadButton(chart, format) {
		const b = el('button', 'small', format.toUpperCase());

		b.type = 'button';
		b.title = 'Download the drawn points of ' + chart.metric +
		    ' as ' + format.toUpperCase();
		b.setAttribute('aria-label', b.title);
		b.addEventListener('click', () => download(chart, format));
		return b;
	}

	function createCard(metric, kind, id) {
		const card = el('section', 'chart');
		const head = el('div', 'chart-head');
		const h = el('h3', null, metric);
		const sub = el('span', 'sub');
		const tools = el('div', 'chart-tools');
		const plot = el('div', 'plot');
		const hover = hoverTable(['', 'run', 'split', 'step', 'time',
		    'value', 'smoothed']);
		const chart = {
			metric, kind, card, plot, sub, hover,
			note: el('p', 'note'),
			nonFiniteEl: el('p', 'nonfinite'),
			u: null, sig: '', lines: [], built: [], nonFinite: [],
			xRange: [0, 1], yRange: [0, 1], extent: null,
			log: false, inView: false, dirty: true, hoverSig: '',
		};

		h.id = id;
		h.append(' ', sub);
		card.setAttribute('aria-labelledby', id);
		card.dataset.metric = metric;
		plot.tabIndex = 0;
		plot.setAttribute('role', 'application');
		plot.setAttribute('aria-roledescription', 'chart');
		plot.setAttribute('aria-describedby', 'chart-keys');
		tools.append(downloadButton(chart, 'csv'),
		    downloadButton(chart, 'json'));
		head.append(h, tools);
		chart.nonFiniteEl.hidden = true;
		card.append(head, plot, hover.wrap, chart.note,
		    chart.nonFiniteEl);
		plot.addEventListener('keydown',
		    (ev) => onChartKey(chart, ev));
		return chart;
	}

	function observe(chart) {
		if (state.observer)
			state.observer.observe(chart.card);
		else
			chart.inView = true;
	}

	function destroyChart(chart) {
		if (state.observer)
			state.observer.unobserve(chart.card);
		if (chart.u)
			chart.u.destroy();
		chart.card.remove();
	}

	/* Creates, removes and orders the cards for the current view. */
	function layoutCharts() {
		const metrics = allMetrics();
		const wanted = state.view.metric ?
		    metrics.filter((m) => m.name === state.view.metric) :
		    metrics;
		const names = wanted.map((m) => m.name);

		fillMetricSelect(metrics);
		for (const [metric, chart] of state.charts) {
			if (!names.includes(metric)) {
				destroyChart(chart);
				state.charts.delete(metric);
			}
		}
		for (const m of wanted) {
			let chart = state.charts.get(m.name);
			if (!chart) {
				chart = createCard(m.name, m.kind,
				    'chart-' + (++state.ids));
				state.charts.set(m.name, chart);
				dom.charts.append(chart.card);
				observe(chart);
			}
			chart.kind = m.kind;
			chart.sub.textContent = chartSubtitle(m.name, m.kind);
			chart.card.classList.toggle('focus',
			    Boolean(state.view.metric));
			const lines = chartLines(m.name);
			if (!sameList(lines, chart.lines)) {
				chart.lines = lines;
				chart.dirty = true;
			}
		}
		if (state.order !== names.join('\0')) {
			for (const n of names)
				dom.charts.append(state.charts.get(n).card);
			state.order = names.join('\0');
		}
		layoutContribs();
		placeholder(metrics);
	}

	function placeholder(metrics) {
		const missing = state.view.runs.filter((n) =>
		    state.loadedRuns && !state.byName.has(n));
		const there = state.view.runs.filter((n) =>
		    state.byName.has(n));
		let text = '';

		if (!state.loadedRuns)
			text = 'Loading runs…';
		else if (!state.runs.length)
			text = 'No runs yet. A training job creates one by ' +
			    'posting to /api/v1/runs/NAME/batches.';
		else if (!state.view.runs.length)
			text = 'Choose runs in the table to see their curves.';
		else if (!metrics.length && there.length)
			text = 'No points yet in ' + there.map((n) =>
			    '“' + n + '”').join(', ') + '.';
		if (missing.length)
			text = (text ? text + ' ' : '') + 'No run named ' +
			    missing.map((n) => '“' + n + '”').join(', ') +
			    '.';
		if (state.view.metric && state.loadedRuns && metrics.length &&
		    !metrics.some((m) => m.name === state.view.metric))
			text = (text ? text + ' ' : '') + 'The chosen runs ' +
			    'have no metric “' + state.view.metric + '”.';
		dom.placeholder.hidden = !text;
		dom.placeholder.textContent = text;
	}

	/* Width in CSS pixels of a chart's drawing area, between its value
	 * axis and its right edge: as many points as it shows at most.
	 * Before the chart is drawn, its element's width less the room of
	 * a wide value axis. */
	function drawWidth(chart) {
		const u = chart.u;

		if (u && u.bbox.width)
			return Math.max(50, Math.round(u.bbox.width /
			    (window.devicePixelRatio || 1)));
		return Math.max(50, plotWidth(chart) - AXIS_ROOM);
	}

	/* Width in CSS pixels of a chart's element, or of a card laid out
	 * like one when there is none yet. */
	function plotWidth(chart) {
		let w = chart ? chart.plot.clientWidth : 0;

		if (!w) {
			const card = el('section', 'chart');
			const probe = el('div', 'plot');
			card.append(probe);
			if (state.view.metric)
				card.classList.add('focus');
			dom.charts.append(card);
			w = probe.clientWidth;
			card.remove();
		}
		return Math.max(50, Math.round(w || 600));
	}

	/* ---- building and drawing a metric chart ---- */

	/* A line's arrays from its series, smoothed in step order, then
	 * ordered by x for the time axes. */
	function buildLine(s, w, log) {
		const run = state.byName.get(s.run);
		const pts = shownPoints(s);
		const xf = xOf(run, state.view.x);
		let order = pts.map((p, i) => i);
		const values = pts.map((p) => p[1]);
		const smoothed = w > 0 ? Smooth.smooth(values, w) : null;

		if (state.view.x !== 'step')
			order = order.sort((a, b) => xf(pts[a]) - xf(pts[b]) ||
			    a - b);
		const line = {
			s, run: s.run, split: s.split,
			colour: runColour(s.run), dash: splitDash(s.split),
			steps: order.map((i) => pts[i][0]),
			times: order.map((i) => pts[i][2]),
			xs: order.map((i) => xf(pts[i])),
			values: order.map((i) => values[i]),
			smoothed: smoothed ? order.map((i) => smoothed[i]) :
			    null,
		};
		const y = (v) => !Number.isFinite(v) ? undefined :
		    log && v <= 0 ? null : v;
		line.rawY = line.values.map(y);
		line.smY = line.smoothed ? line.smoothed.map(y) : null;
		return line;
	}

	function anyPositive(chart) {
		return chart.lines.some((s) => shownPoints(s).some((p) =>
		    p[1] > 0 && Number.isFinite(p[1])));
	}

	function buildChart(chart) {
		const w = state.view.smooth;
		const log = state.view.y === 'log' && anyPositive(chart);
		const built = chart.lines.filter((s) => s.loaded)
		    .map((s) => buildLine(s, w, log));
		const nonFinite = [];
		let nonPositive = 0;

		for (const l of built) {
			l.values.forEach((v, i) => {
				if (!Number.isFinite(v))
					nonFinite.push({ run: l.run,
					    split: l.split, step: l.steps[i],
					    x: l.xs[i], value: v,
					    colour: l.colour });
				else if (log && v <= 0)
					nonPositive++;
			});
		}
		nonFinite.sort((a, b) => a.step - b.step);
		chart.built = built;
		chart.nonFinite = nonFinite;
		chart.log = log;
		chart.nonPositive = nonPositive;
		chart.extent = xExtent(built);
		chart.xRange = xRangeOf(chart);
		chart.yRange = yRangeOf(chart);
	}

	function xExtent(built) {
		let lo = Infinity;
		let hi = -Infinity;

		for (const l of built) {
			if (!l.xs.length)
				continue;
			lo = Math.min(lo, l.xs[0]);
			hi = Math.max(hi, l.xs[l.xs.length - 1]);
		}
		if (!(lo <= hi))
			return null;
		return [lo, hi];
	}

	function xRangeOf(chart) {
		const z = state.view.zoom;
		const e = chart.extent;

		if (z)
			return z.slice();
		if (!e)
			return [0, 1];
		if (e[0] === e[1])
			return [e[0] - 1, e[1] + 1];
		return e.slice();
	}

	function yRangeOf(chart) {
		const [x0, x1] = chart.xRange;
		const arrays = [];

		for (const l of chart.built) {
			arrays.push({ xs: l.xs, ys: l.rawY });
			if (l.smY)
				arrays.push({ xs: l.xs, ys: l.smY });
		}
		const r = Series.valueRange(arrays, x0, x1, chart.log) ||
		    Series.valueRange(arrays, null, null, chart.log);
		if (!r)
			return chart.log ? [1, 10] : [0, 1];
		return Series.padRange(r, chart.log);
	}

	/* Shows dots where a line's points are few enough to tell apart,
	 * so that a split with a handful of steps is visible. */
	function pointsShow(u, si) {
		const xs = u.data[si][0];
		const [x0, x1] = [u.scales.x.min, u.scales.x.max];
		const n = Series.lowerBound(xs, x1 + 1e-9) -
		    Series.lowerBound(xs, x0);

		const pr = window.devicePixelRatio || 1;

		return n <= u.bbox.width / (pr * 16);
	}

	/* uPlot's faceted mode draws dots only at the indices given. */
	function pointsAt(u, si, show) {
		const ys = u.data[si][1];
		const idx = [];

		if (!show)
			return null;
		for (let i = 0; i < ys.length; i++) {
			if (ys[i] !== undefined && ys[i] !== null)
				idx.push(i);
		}
		return idx;
	}

	function axisSize(u, values) {
		const longest = Math.max(0, ...(values || [])
		    .map((v) => String(v).length));

		return Math.ceil(longest * 7 + 18);
	}

	const DURATION_INCRS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
		0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
		1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
		1209600, 2592000];

	/* Steps are whole: ticks 1, 2 or 5 times a power of ten apart,
	 * or 25 times one. */
	const STEP_INCRS = [1, 2, 5];
	for (let p = 10; p <= 1e15; p *= 10)
		STEP_INCRS.push(p, 2 * p, 2.5 * p, 5 * p);

	function xAxis(th) {
		const axis = {
			label: X_LABEL[state.view.x],
			size: 30,
			labelSize: 18,
			labelGap: 0,
			stroke: th.text,
			grid: { stroke: th.grid, width: 1 },
			ticks: { stroke: th.grid, width: 1 },
			font: '12px system-ui, sans-serif',
			labelFont: '12px system-ui, sans-serif',
		};

		if (state.view.x === 'relative') {
			axis.incrs = DURATION_INCRS;
			axis.values = (u, splits) => splits.map((v) =>
			    Series.duration(v));
		} else if (state.view.x === 'step') {
			axis.incrs = STEP_INCRS;
			axis.values = (u, splits) => splits.map((v) =>
			    Math.abs(v) >= 1e6 ? v.toExponential(2)
			    .replace(/\.?0+e/, 'e') : String(v));
		}
		return axis;
	}

	/* Ticks of a logarithmic axis: powers of ten, and 2 and 5 times
	 * them (or every digit) when the range spans few decades. */
	function logSplits(u, axisIdx, min, max) {
		const lo = Math.floor(Math.log10(min));
		const hi = Math.ceil(Math.log10(max));
		const decades = hi - lo;
		const mult = decades <= 1 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] :
		    decades <= 3 ? [1, 2, 5] : [1];
		const every = Math.max(1, Math.ceil(decades / 8));
		const out = [];

		for (let e = lo; e <= hi; e += every) {
			for (const m of mult) {
				const v = Number((m * Math.pow(10, e))
				    .toPrecision(12));
				if (v >= min && v <= max)
					out.push(v);
			}
		}
		return out;
	}

	function yAxis(th, log) {
		const axis = {
			stroke: th.text,
			grid: { stroke: th.grid, width: 1 },
			ticks: { stroke: th.grid, width: 1 },
			font: '12px system-ui, sans-serif',
			size: axisSize,
			values: (u, splits) => splits.map(tick3),
		};

		if (log)
			axis.splits = logSplits;
		return axis;
	}

	/* Marks non-finite values: a dashed line across the plot, and a
	 * triangle with the value in the run's colour on the row kept free
	 * above the plot. */
	function drawNonFinite(chart, u) {
		const ctx = u.ctx;
		const pr = window.devicePixelRatio || 1;
		const { left, top, width, height } = u.bbox;
		const row = MARK_ROW * pr;
		const visible = chart.nonFinite.filter((nf) => {
			const x = u.valToPos(nf.x, 'x', true);
			return x >= left - 1 && x <= left + width + 1;
		});
		const labels = visible.length <= MAX_MARK_LABELS;

		if (!visible.length)
			return;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left - 8 * pr, top - row, width + 16 * pr,
		    height + row);
		ctx.clip();
		ctx.lineWidth = pr;
		ctx.font = Math.round(11 * pr) + 'px system-ui, sans-serif';
		ctx.textBaseline = 'middle';
		ctx.textAlign = 'left';
		for (const nf of visible) {
			const x = Math.round(u.valToPos(nf.x, 'x', true)) +
			    0.5;
			const mid = top - row / 2;
			ctx.strokeStyle = nf.colour;
			ctx.fillStyle = nf.colour;
			ctx.globalAlpha = 0.8;
			ctx.setLineDash([4 * pr, 3 * pr]);
			ctx.beginPath();
			ctx.moveTo(x, top);
			ctx.lineTo(x, top + height);
			ctx.stroke();
			ctx.globalAlpha = 1;
			ctx.setLineDash([]);
			ctx.beginPath();
			ctx.moveTo(x - 5 * pr, mid - 4 * pr);
			ctx.lineTo(x + 5 * pr, mid - 4 * pr);
			ctx.lineTo(x, mid + 4 * pr);
			ctx.closePath();
			ctx.fill();
			if (labels) {
				const text = markText(nf.value);
				const tw = ctx.measureText(text).width;
				const tx = x + 7 * pr + tw > left + width ?
				    x - 7 * pr - tw : x + 7 * pr;
				ctx.fillText(text, tx, mid);
			}
		}
		ctx.restore();
	}

	function markText(v) {
		if (Number.isNaN(v))
			return 'NaN';
		return v > 0 ? '+∞' : '−∞';
	}

	/* The nearest point of each line to the cursor, by x. */
	function cursorIdx(u, si) {
		const xs = u.data[si] && u.data[si][0];

		if (!xs || !xs.length || u.cursor.left < 0)
			return null;
		const x = u.posToVal(u.cursor.left, 'x');
		const i = Series.nearest(xs, x);
		return i < 0 ? null : i;
	}

	function chartOptions(chart, width, height) {
		const th = theme();
		const w = state.view.smooth;
		const series = [{}];

		for (const l of chart.built) {
			const dash = l.dash || undefined;
			const pts = { show: pointsShow, filter: pointsAt,
			    size: 6, width: 1, fill: l.colour,
			    stroke: l.colour };
			series.push({
				label: l.run + ' ' + l.split,
				stroke: l.colour,
				width: w > 0 ? 1 : 2,
				alpha: w > 0 ? 0.3 : 1,
				dash: w > 0 ? undefined : dash,
				points: w > 0 ? { show: false } : pts,
			});
			if (w > 0)
				series.push({
					label: l.run + ' ' + l.split +
					    ' smoothed',
					stroke: l.colour,
					width: 2,
					dash: dash,
					points: pts,
				});
		}
		return {
			mode: 2,
			width, height,
			scales: {
				x: { time: state.view.x === 'wall',
				    range: () => chart.xRange },
				y: { distr: chart.log ? 3 : 1, log: 10,
				    range: () => chart.yRange },
			},
			series,
			padding: [MARK_ROW, 12, null, null],
			axes: [xAxis(th), yAxis(th, chart.log)],
			legend: { show: false },
			cursor: {
				drag: { x: true, y: false, setScale: false },
				dataIdx: cursorIdx,
				points: { size: 8 },
				bind: { dblclick: () => (e) => {
					if (e.button === 0)
						setZoom(null);
					return null;
				} },
			},
			hooks: {
				draw: [(u) => drawNonFinite(chart, u)],
				setSelect: [(u) => onSelect(chart, u)],
				setCursor: [(u) => renderHover(chart, u)],
			},
		};
	}

	function chartData(chart) {
		const data = [null];

		for (const l of chart.built) {
			data.push([l.xs, l.rawY]);
			if (l.smY)
				data.push([l.xs, l.smY]);
		}
		return data;
	}

	function drawChart(chart) {
		const height = state.view.metric ? FOCUS_HEIGHT : CHART_HEIGHT;
		const sig = [theme().name, state.view.x, chart.log,
		    state.view.smooth > 0, height].concat(chart.built.map(
		    (l) => l.s.key + '\0' + l.colour)).join('\0');

		if (!chart.built.length) {
			if (chart.u)
				chart.u.destroy();
			chart.u = null;
			chart.sig = '';
			chart.plot.replaceChildren(el('p', 'empty',
			    chart.lines.length ? 'Loading…' : 'No points.'));
		} else if (!chart.u || chart.sig !== sig) {
			if (chart.u)
				chart.u.destroy();
			chart.plot.replaceChildren();
			chart.u = new uPlot(chartOptions(chart,
			    plotWidth(chart), height), chartData(chart),
			    chart.plot);
			chart.sig = sig;
		} else {
			chart.u.batch(() => {
				chart.u.setData(chartData(chart), false);
				chart.u.setScale('x', { min: chart.xRange[0],
				    max: chart.xRange[1] });
				chart.u.setScale('y', { min: chart.yRange[0],
				    max: chart.yRange[1] });
			});
		}
		renderChartText(chart);
		renderHover(chart, chart.u);
	}

	function nonFiniteText(chart) {
		const nf = chart.nonFinite;
		const many = new Set(nf.map((n) => n.run)).size > 1;
		const shown = nf.slice(0, MAX_NONFINITE_LISTED).map((n) =>
		    Series.exact(n.value) + ' at step ' + n.step + ' (' +
		    (many ? n.run + ', ' : '') + n.split + ')');
		let t = 'Not finite: ' + shown.join(', ');

		if (nf.length > shown.length)
			t += ', and ' + (nf.length - shown.length) + ' more';
		return t + '.';
	}

	function noteText(chart) {
		const parts = [];
		const thin = chart.built.filter((l) =>
		    l.s.meta && l.s.meta.points > l.steps.length);

		if (thin.length)
			parts.push('Long series are downsampled to the ' +
			    'chart’s width, keeping each stretch’s ' +
			    'first, last, lowest and highest point; ' +
			    'zoom in for every point.');
		if (state.view.y === 'log' && !chart.log && chart.built.length)
			parts.push('No positive values: linear axis.');
		if (chart.nonPositive)
			parts.push(chart.nonPositive + (chart.nonPositive ===
			    1 ? ' value ≤ 0 is' : ' values ≤ 0 are') +
			    ' not drawn on the logarithmic axis.');
		return parts.join(' ');
	}

	function renderChartText(chart) {
		const runs = new Set(chart.built.map((l) => l.run)).size;
		const note = noteText(chart);

		chart.plot.setAttribute('aria-label', 'Chart of ' +
		    chart.metric + ' by ' + X_LABEL[state.view.x] + ', ' +
		    chart.built.length + ' line' +
		    (chart.built.length === 1 ? '' : 's') + ' of ' + runs +
		    ' run' + (runs === 1 ? '' : 's') +
		    '; the table below gives the values.');
		chart.note.hidden = !note;
		chart.note.textContent = note;
		chart.nonFiniteEl.hidden = !chart.nonFinite.length;
		chart.nonFiniteEl.textContent = chart.nonFinite.length ?
		    nonFiniteText(chart) : '';
	}

	function timeText(line, i) {
		const t = line.times[i];
		const run = state.byName.get(line.run);

		if (state.view.x === 'relative' && run)
			return '+' + Series.duration(t - run.created);
		return wallText(t).slice(11);
	}

	/* The values under the cursor, or the newest ones when the cursor
	 * is not on the chart. */
	function renderHover(chart, u) {
		const body = chart.hover.body;
		const sig = chart.built.map((l) => l.s.key + '\0' +
		    l.colour).join('\0');
		const per = state.view.smooth > 0 ? 2 : 1;

		if (chart.hoverSig !== sig) {
			body.replaceChildren();
			for (const l of chart.built) {
				const tr = el('tr');
				const sw = el('span', 'swatch');
				const td = el('td');
				sw.style.background = l.colour;
				sw.classList.toggle('dashed', Boolean(l.dash));
				td.append(sw);
				tr.append(td, el('td', 'run', l.run),
				    el('td', null, l.split), el('td', 'num'),
				    el('td', 'time'), el('td', 'num value'),
				    el('td', 'num value'));
				body.append(tr);
			}
			chart.hoverSig = sig;
		}
		chart.hover.wrap.classList.toggle('raw',
		    !(state.view.smooth > 0));
		chart.built.forEach((l, k) => {
			const cells = body.children[k].children;
			let i = l.steps.length - 1;
			if (u && u.cursor.left >= 0 && u.cursor.idxs)
				i = u.cursor.idxs[1 + k * per] ?? -1;
			if (i < 0 || i >= l.steps.length) {
				for (let j = 3; j < 7; j++)
					cells[j].textContent = '—';
				return;
			}
			cells[3].textContent = l.steps[i];
			cells[4].textContent = timeText(l, i);
			cells[4].title = wallText(l.times[i]) + ' (unix ' +
			    l.times[i] + ')';
			cells[5].textContent = Series.exact(l.values[i]);
			cells[6].textContent = l.smoothed ?
			    Series.exact(l.smoothed[i]) : '';
		});
	}

	/* ---- zoom ---- */

	function onSelect(chart, u) {
		const sel = u.select;

		if (sel.width < 3)
			return;
		const x0 = u.posToVal(sel.left, 'x');
		const x1 = u.posToVal(sel.left + sel.width, 'x');
		u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
		setZoom([x0, x1]);
	}

	/* Rounded so that the address bar stays short and the requests of
	 * a reload are the same: whole steps, milliseconds. */
	function roundZoom(z) {
		if (!z)
			return null;
		let [lo, hi] = z;
		if (state.view.x === 'step') {
			lo = Math.max(0, Math.floor(lo));
			hi = Math.ceil(hi);
			if (hi <= lo)
				hi = lo + 1;
		} else {
			lo = Math.round(lo * 1000) / 1000;
			hi = Math.round(hi * 1000) / 1000;
			if (hi <= lo)
				hi = lo + 0.001;
		}
		return [lo, hi];
	}

	function setZoom(z) {
		state.view.zoom = roundZoom(z);
		writeHash();
		renderZoomText();
		for (const chart of state.charts.values()) {
			if (chart.u) {
				buildChart(chart);
				drawChart(chart);
			}
		}
		for (const c of state.contribs.values())
			c.dirty = true;
		schedule();
	}

	function renderZoomText() {
		const z = state.view.zoom;
		let text = '';

		if (z && state.view.x === 'step')
			text = 'steps ' + z[0] + '–' + z[1];
		else if (z && state.view.x === 'relative')
			text = Series.duration(z[0]) + ' – ' +
			    Series.duration(z[1]);
		else if (z)
			text = wallText(z[0]) + ' – ' + wallText(z[1]);
		dom.zoomText.textContent = text ? 'Zoomed to ' + text : '';
		dom.resetZoom.disabled = !z;
	}

	/* Keys on a focused chart: arrows move the cursor, + and - zoom
	 * around it, 0 or Escape shows everything. */
	function onChartKey(chart, ev) {
		const u = chart.u;

		if (!u)
			return;
		const w = u.bbox.width / (window.devicePixelRatio || 1);
		const h = u.bbox.height / (window.devicePixelRatio || 1);
		let left = u.cursor.left >= 0 ? u.cursor.left : w;
		const stepPx = ev.shiftKey ? w / 10 : Math.max(1, w / 100);

		if (ev.key === 'ArrowLeft')
			left -= stepPx;
		else if (ev.key === 'ArrowRight')
			left += stepPx;
		else if (ev.key === 'Home')
			left = 0;
		else if (ev.key === 'End')
			left = w;
		else if (ev.key === '+' || ev.key === '=' || ev.key === '-')
			return keyZoom(chart, u, left, ev);
		else if (ev.key === '0' || ev.key === 'Escape') {
			ev.preventDefault();
			return setZoom(null);
		} else
			return;
		ev.preventDefault();
		u.setCursor({ left: Math.max(0, Math.min(w, left)),
		    top: h / 2 });
	}

	function keyZoom(chart, u, left, ev) {
		const [lo, hi] = chart.xRange;
		const mid = u.posToVal(left, 'x');
		const f = ev.key === '-' ? 2 : 0.5;
		const e = chart.extent;
		let z = [mid - (mid - lo) * f, mid + (hi - mid) * f];

		ev.preventDefault();
		if (e && z[0] <= e[0] && z[1] >= e[1])
			z = null;
		setZoom(z);
	}

	/* ---- contributions of the weighted loss terms ---- */

	function contribSplit(info, run) {
		const first = (run.losses || [])[0];
		const splits = info.list.filter((m) => first &&
		    m.name === first.name).map((m) => m.split);

		if (splits.includes('train'))
			return 'train';
		return splits.sort()[0] || null;
	}

	function layoutContribs() {
		const on = state.view.contrib !== 'off';
		const wanted = [];

		dom.contribCharts.hidden = !on;
		if (on) {
			for (const name of state.view.runs) {
				const run = state.byName.get(name);
				const info = state.metrics.get(name);
				if (run && info && contribSplit(info, run))
					wanted.push(name);
			}
		}
		for (const [name, c] of state.contribs) {
			if (!wanted.includes(name)) {
				if (state.observer)
					state.observer.unobserve(c.card);
				if (c.u)
					c.u.destroy();
				c.card.remove();
				state.contribs.delete(name);
			}
		}
		for (const name of wanted) {
			let c = state.contribs.get(name);
			if (!c) {
				c = createContribCard(name);
				state.contribs.set(name, c);
				observe(c);
			}
			dom.contribCharts.append(c.card);
			contribTerms(c);
		}
	}

	function createContribCard(name) {
		const card = el('section', 'chart contrib');
		const h = el('h3');
		const swatch = el('span', 'swatch');
		const id = 'contrib-' + (++state.ids);
		const c = {
			run: name, card, plot: el('div', 'plot'),
			sub: el('span', 'sub'),
			hover: hoverTable(['', 'term', 'weight', 'loss',
			    'weight × loss', 'share']),
			stepEl: el('p', 'note'),
			u: null, sig: '', terms: [], series: [], inView: false,
			dirty: true, data: null, isContrib: true,
			nonFinite: [],
		};

		h.id = id;
		h.append(swatch, ' Contributions to the total · ',
		    el('span', 'run', name), ' ', c.sub);
		c.swatch = swatch;
		card.setAttribute('aria-labelledby', id);
		c.plot.tabIndex = 0;
		c.plot.setAttribute('role', 'application');
		c.plot.setAttribute('aria-roledescription', 'chart');
		c.plot.setAttribute('aria-describedby', 'chart-keys');
		c.plot.addEventListener('keydown', (ev) => onChartKey(c, ev));
		card.append(h, c.plot, c.hover.wrap, c.stepEl);
		return c;
	}

	/* The series of a run's terms on its chosen split, fetched denser
	 * and zoomed together: the range is the first term's, so that all
	 * terms keep the same bucket edges. */
	function contribTerms(c) {
		const run = state.byName.get(c.run);
		const info = state.metrics.get(c.run);
		const split = contribSplit(info, run);
		const terms = (run.losses || []).filter((l) =>
		    info.list.some((m) => m.name === l.name &&
		    m.split === split));
		const series = terms.map((l) => getSeries('c', c.run,
		    info.list.find((m) => m.name === l.name &&
		    m.split === split)));

		series.forEach((s) => {
			s.zoomRange = () => zoomSteps(series[0]);
		});
		if (!sameList(series, c.series))
			c.dirty = true;
		c.split = split;
		c.terms = terms;
		c.series = series;
		c.swatch.style.background = runColour(c.run);
		c.sub.textContent = '(' + split + ', ' +
		    (state.view.contrib === 'shares' ? 'shares in %' :
		    'stacked weight × loss') + ')';
	}

	function buildContrib(c) {
		const run = state.byName.get(c.run);
		const w = state.view.smooth;
		const terms = c.series.map((s) => shownPoints(s));
		const r = Series.contributions(terms, c.terms.map((l) =>
		    l.weight));
		const parts = w > 0 ? r.parts.map((p) => Smooth.smooth(p, w)) :
		    r.parts;
		const layers = Series.stack(parts, state.view.contrib ===
		    'shares');
		const xf = xOf(run, state.view.x);
		let order = r.steps.map((s, i) => i);

		if (state.view.x !== 'step')
			order = order.sort((a, b) =>
			    xf([r.steps[a], 0, r.times[a]]) -
			    xf([r.steps[b], 0, r.times[b]]) || a - b);
		const pick = (arr) => order.map((i) => arr[i]);
		c.data = {
			steps: pick(r.steps),
			times: pick(r.times),
			xs: order.map((i) => xf([r.steps[i], 0, r.times[i]])),
			parts: parts.map(pick),
			raw: r.parts.map(pick),
			layers: layers.map(pick),
			losses: terms.map((pts) => new Map(pts.map((p) =>
			    [p[0], p[1]]))),
		};
		const pal = PALETTE[themeName()];
		c.nonFinite = [];
		c.data.raw.forEach((p, k) => p.forEach((v, i) => {
			if (!Number.isFinite(v))
				c.nonFinite.push({ x: c.data.xs[i], value: v,
				    step: c.data.steps[i],
				    colour: pal[k % pal.length] });
		}));
		c.extent = c.data.xs.length ? [c.data.xs[0],
		    c.data.xs[c.data.xs.length - 1]] : null;
		c.xRange = xRangeOf(c);
		const vr = Series.valueRange(c.data.layers.map((ys) =>
		    ({ xs: c.data.xs, ys })), c.xRange[0], c.xRange[1], false);
		const lo = vr ? Math.min(0, vr[0]) : 0;
		const hi = vr ? Math.max(0, vr[1]) : 1;
		c.yRange = state.view.contrib === 'shares' ?
		    [Math.min(0, lo), Math.max(100, hi)] :
		    Series.padRange([lo, hi === lo ? lo + 1 : hi], false);
		if (lo === 0)
			c.yRange[0] = 0;
	}

	function contribOptions(c, width) {
		const th = theme();
		const pal = PALETTE[themeName()];
		const series = [{}];
		const bands = [];

		c.terms.forEach((l, k) => {
			const colour = pal[k % pal.length];
			series.push({
				label: l.name,
				stroke: colour,
				width: 1.5,
				fill: colour + '59',
				points: { show: false },
			});
			if (k > 0)
				bands.push({ series: [k + 1, k] });
		});
		return {
			width, height: CHART_HEIGHT,
			scales: {
				x: { time: state.view.x === 'wall',
				    range: () => c.xRange },
				y: { range: () => c.yRange },
			},
			series, bands,
			padding: [MARK_ROW, 12, null, null],
			axes: [xAxis(th), Object.assign(yAxis(th, false),
			    state.view.contrib === 'shares' ? { values:
			    (u, splits) => splits.map((v) => v + '%') } : {})],
			legend: { show: false },
			cursor: {
				drag: { x: true, y: false, setScale: false },
				points: { show: false },
				bind: { dblclick: () => (e) => {
					if (e.button === 0)
						setZoom(null);
					return null;
				} },
			},
			hooks: {
				draw: [(u) => drawNonFinite(c, u)],
				setSelect: [(u) => onSelect(c, u)],
				setCursor: [(u) => renderContribHover(c, u)],
			},
		};
	}

	function drawContrib(c) {
		const sig = [theme().name, state.view.x, state.view.contrib,
		    c.terms.map((l) => l.name)].join('\0');
		const data = [c.data.xs, ...c.data.layers];

		if (!c.data.steps.length) {
			if (c.u)
				c.u.destroy();
			c.u = null;
			c.plot.replaceChildren(el('p', 'empty',
			    'No step has every term yet.'));
		} else if (!c.u || c.sig !== sig) {
			if (c.u)
				c.u.destroy();
			c.plot.replaceChildren();
			c.u = new uPlot(contribOptions(c, plotWidth(c)), data,
			    c.plot);
			c.sig = sig;
		} else {
			c.u.batch(() => {
				c.u.setData(data, false);
				c.u.setScale('x', { min: c.xRange[0],
				    max: c.xRange[1] });
				c.u.setScale('y', { min: c.yRange[0],
				    max: c.yRange[1] });
			});
		}
		c.plot.setAttribute('aria-label', 'Contributions of ' +
		    c.terms.length + ' weighted loss terms to the total of ' +
		    c.run + '; the table below gives the values.');
		renderContribHover(c, c.u);
	}

	function renderContribHover(c, u) {
		const body = c.hover.body;
		const pal = PALETTE[themeName()];
		const d = c.data;
		let i = d ? d.steps.length - 1 : -1;

		if (u && u.cursor.left >= 0 && u.cursor.idx !== null &&
		    u.cursor.idx !== undefined)
			i = u.cursor.idx;
		if (body.children.length !== c.terms.length + 1) {
			body.replaceChildren();
			c.terms.forEach((l, k) => {
				const tr = el('tr');
				const sw = el('span', 'swatch');
				const td = el('td');
				sw.style.background = pal[k % pal.length];
				td.append(sw);
				tr.append(td, el('td', null, l.name),
				    el('td', 'num', String(l.weight)),
				    el('td', 'num value'),
				    el('td', 'num value'), el('td', 'num'));
				body.append(tr);
			});
			const tr = el('tr', 'sum');
			tr.append(el('td'), el('td', null, 'total'), el('td'),
			    el('td'), el('td', 'num value'), el('td'));
			body.append(tr);
		}
		if (i < 0 || !d) {
			c.stepEl.textContent = '';
			return;
		}
		const step = d.steps[i];
		let sum = 0;
		d.raw.forEach((p) => {
			sum += p[i];
		});
		c.terms.forEach((l, k) => {
			const cells = body.children[k].children;
			cells[3].textContent = Series.exact(d.losses[k]
			    .get(step));
			cells[4].textContent = Series.exact(d.raw[k][i]);
			const share = 100 * d.raw[k][i] / sum;
			cells[5].textContent = Number.isFinite(share) ?
			    share.toFixed(1) + '%' : '—';
		});
		body.children[c.terms.length].children[4].textContent =
		    Series.exact(sum);
		c.stepEl.textContent = 'At step ' + step + ' (' +
		    wallText(d.times[i]) + ')' + (state.view.smooth > 0 ?
		    '; the areas are smoothed, the table is not.' : '.');
	}

	/* ---- download ---- */

	function fileName(metric, ext) {
		return 'lossmon-' + metric.replace(/[^\w.-]+/g, '_') + '.' +
		    ext;
	}

	/* The points a chart draws within its x range, line by line. */
	function drawnRows(chart) {
		const [x0, x1] = chart.xRange;
		const out = [];

		for (const l of chart.built) {
			const rows = [];
			l.xs.forEach((x, i) => {
				if (!state.view.zoom || (x >= x0 && x <= x1))
					rows.push(i);
			});
			rows.sort((a, b) => l.steps[a] - l.steps[b]);
			out.push({ line: l, idx: rows });
		}
		return out;
	}

	function chartCSV(chart) {
		const rows = [['run', 'metric', 'split', 'step', 'time',
		    'time_iso', 'value', 'smoothed']];

		for (const { line, idx } of drawnRows(chart)) {
			for (const i of idx) {
				const sm = line.smoothed ? line.smoothed[i] :
				    line.values[i];
				rows.push([line.run, chart.metric, line.split,
				    line.steps[i], line.times[i],
				    new Date(line.times[i] * 1000)
				    .toISOString(),
				    Series.exact(line.values[i]),
				    Series.exact(sm)]);
			}
		}
		return Series.csv(rows);
	}

	function chartJSON(chart) {
		const doc = {
			metric: chart.metric,
			smoothing: state.view.smooth,
			x: state.view.x,
			zoom: state.view.zoom,
			series: drawnRows(chart).map(({ line, idx }) => ({
				run: line.run,
				split: line.split,
				points: idx.map((i) => [line.steps[i],
				    Series.jsonValue(line.values[i]),
				    line.times[i],
				    Series.jsonValue(line.smoothed ?
				    line.smoothed[i] : line.values[i])]),
			})),
		};

		return JSON.stringify(doc, null, 1) + '\n';
	}

	/* A Blob URL on a link with a download name; nothing goes to the
	 * server. */
	function download(chart, format) {
		const text = format === 'csv' ? chartCSV(chart) :
		    chartJSON(chart);
		const type = format === 'csv' ? 'text/csv' :
		    'application/json';
		const url = URL.createObjectURL(new Blob([text],
		    { type: type + ';charset=utf-8' }));
		const a = el('a');

		a.href = url;
		a.download = fileName(chart.metric, format);
		a.hidden = true;
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 60000);
	}

	/* ---- polling ---- */

	async function refreshRuns() {
		const body = await getJSON(API + '/runs');

		state.runs = body.runs || [];
		state.byName = new Map(state.runs.map((r) => [r.name, r]));
		state.loadedRuns = true;
	}

	/* Only the chosen runs, each by itself; a run gone is dropped. */
	async function refreshChosen() {
		const names = state.view.runs.filter((n) =>
		    state.byName.has(n));
		const got = await Promise.all(names.map((n) =>
		    getJSON(runPath(n)).catch((e) => {
			if (e.status === 404)
				return null;
			throw e;
		    })));

		names.forEach((n, i) => {
			const run = got[i];
			if (!run) {
				state.byName.delete(n);
				state.runs = state.runs.filter((r) =>
				    r.name !== n);
				return;
			}
			state.byName.set(n, run);
			const at = state.runs.findIndex((r) => r.name === n);
			if (at >= 0)
				state.runs[at] = run;
		});
	}

	/* The charts that fetch: those on or near the screen, or all of
	 * them when the view holds few lines. */
	function visibleCharts() {
		const all = [...state.contribs.values(),
		    ...state.charts.values()];
		const lines = all.reduce((n, c) => n +
		    (c.isContrib ? c.series : c.lines).length, 0);

		if (lines <= EAGER_LINES)
			return all;
		return all.filter((c) => c.inView);
	}

	/* Fetches what the charts on screen need, then redraws those whose
	 * points changed. */
	async function refreshCharts() {
		const jobs = [];

		for (const chart of visibleCharts()) {
			const width = drawWidth(chart) *
			    (chart.isContrib ? CONTRIB_DENSITY : 1);
			const list = chart.isContrib ? chart.series :
			    chart.lines;
			for (const s of list) {
				jobs.push(syncSeries(s, width).then((ch) => {
					if (ch)
						chart.dirty = true;
				}));
			}
		}
		await Promise.all(jobs);
		redrawDirty();
	}

	/* Redraws the charts marked dirty that hold points; those never
	 * on screen wait for their first fetch. */
	function redrawDirty() {
		const all = [...state.contribs.values(),
		    ...state.charts.values()];

		for (const chart of all) {
			const held = chart.isContrib ? chart.series :
			    chart.lines;
			if (!chart.dirty || !(chart.inView ||
			    held.some((s) => s.loaded)))
				continue;
			chart.dirty = false;
			if (chart.isContrib) {
				buildContrib(chart);
				drawContrib(chart);
			} else {
				buildChart(chart);
				drawChart(chart);
			}
		}
	}

	/* One polling round; rounds never overlap, and a request for a
	 * round during one runs right after it. */
	async function tick() {
		clearTimeout(state.timer);
		state.timer = null;
		if (state.busy) {
			state.again = true;
			return;
		}
		state.busy = true;
		try {
			const round = state.refreshes;
			if (!state.loadedRuns || round % LIST_EVERY === 0 ||
			    state.view.runs.length > FEW_RUNS)
				await refreshRuns();
			else
				await refreshChosen();
			renderTable();
			chooseDefaultRun();
			const changed = await Promise.all(state.view.runs.map(
			    (n) => refreshMetrics(n)));
			if (changed.some(Boolean) || !state.order)
				layoutCharts();
			else
				placeholder(allMetrics());
			await refreshCharts();
			if (dom.status.classList.contains('bad'))
				setStatus('');
		} catch (e) {
			setStatus('Cannot load from lossmond: ' + e.message +
			    ' (retrying)', true);
		} finally {
			state.busy = false;
		}
		state.refreshes++;
		if (state.again) {
			state.again = false;
			tick();
		} else if (!document.hidden) {
			state.timer = setTimeout(tick, TICK_MS);
		}
	}

	function schedule() {
		if (state.busy)
			state.again = true;
		else
			tick();
	}

	/* ---- the controls ---- */

	function renderControls() {
		const v = state.view;

		dom.xMode.value = v.x;
		dom.yMode.value = v.y;
		dom.contrib.value = v.contrib;
		dom.smooth.value = String(Math.min(v.smooth,
		    Number(dom.smooth.max)));
		dom.smoothNum.value = String(v.smooth);
		fillMetricSelect(allMetrics());
		renderZoomText();
	}

	/* After the view changed: every chart is redrawn from what it
	 * holds, and a round fetches what is missing. */
	function viewChanged() {
		renderControls();
		renderChosen();
		layoutCharts();
		for (const chart of state.charts.values())
			chart.dirty = true;
		for (const c of state.contribs.values())
			c.dirty = true;
		redrawDirty();
		schedule();
	}

	function setSmooth(value) {
		let w = Number(value);

		if (!Number.isFinite(w))
			return;
		w = Math.min(ViewState.MAX_SMOOTH, Math.max(0, w));
		w = Math.round(w * 1000) / 1000;
		if (w === state.view.smooth)
			return;
		state.view.smooth = w;
		writeHash();
		dom.smoothNum.value = String(w);
		if (document.activeElement !== dom.smooth)
			dom.smooth.value = String(w);
		for (const chart of state.charts.values())
			chart.dirty = true;
		for (const c of state.contribs.values())
			c.dirty = true;
		redrawDirty();
	}

	function bindControls() {
		dom.filter.addEventListener('input', renderTable);
		dom.filter.addEventListener('keydown', onFilterKey);
		dom.tbody.addEventListener('keydown', onTableKey);
		dom.tbody.addEventListener('change', (ev) => {
			if (ev.target.matches('input[type=checkbox]'))
				onBoxChange(ev);
		});
		dom.table.tHead.addEventListener('click', onSortClick);
		dom.chooseShown.addEventListener('click', chooseShown);
		dom.clearChosen.addEventListener('click', () => setChosen([]));
		dom.metric.addEventListener('change', () => {
			state.view.metric = dom.metric.value;
			writeHash();
			viewChanged();
		});
		dom.xMode.addEventListener('change', () => {
			state.view.x = dom.xMode.value;
			state.view.zoom = null;
			writeHash();
			viewChanged();
		});
		dom.yMode.addEventListener('change', () => {
			state.view.y = dom.yMode.value;
			writeHash();
			viewChanged();
		});
		dom.contrib.addEventListener('change', () => {
			state.view.contrib = dom.contrib.value;
			writeHash();
			viewChanged();
		});
		dom.smooth.addEventListener('input', () =>
		    setSmooth(dom.smooth.value));
		dom.smoothNum.addEventListener('change', () =>
		    setSmooth(dom.smoothNum.value));
		dom.resetZoom.addEventListener('click', () => setZoom(null));
		dom.theme.addEventListener('change', () => {
			saveTheme(dom.theme.value);
			applyTheme(dom.theme.value);
		});
		document.querySelector('.skip').addEventListener('click',
		    (ev) => {
			ev.preventDefault();
			dom.view.focus();
		});
	}

	/* ---- theme: a browser preference, not part of a shared view ---- */

	const THEME_KEY = 'lossmon.theme';

	function loadTheme() {
		try {
			return localStorage.getItem(THEME_KEY) || 'auto';
		} catch (e) {
			return 'auto';
		}
	}

	function saveTheme(t) {
		try {
			localStorage.setItem(THEME_KEY, t);
		} catch (e) {
			/* only the preference is lost */
		}
	}

	function applyTheme(t) {
		if (t === 'light' || t === 'dark')
			document.documentElement.dataset.theme = t;
		else
			delete document.documentElement.dataset.theme;
		dom.theme.value = t === 'light' || t === 'dark' ? t : 'auto';
		redrawAll();
	}

	function redrawAll() {
		renderChosen();
		for (const chart of state.charts.values()) {
			chart.sig = '';
			chart.dirty = true;
		}
		for (const c of state.contribs.values()) {
			c.sig = '';
			c.dirty = true;
		}
		redrawDirty();
	}

	function resizeCharts() {
		let wider = false;

		for (const chart of [...state.charts.values(),
		    ...state.contribs.values()]) {
			const w = chart.plot.clientWidth;
			if (chart.u && w && w !== chart.u.width) {
				chart.u.setSize({ width: w,
				    height: chart.u.height });
				wider = true;
			}
		}
		if (wider)
			schedule();
	}

	/* ---- start ---- */

	function start() {
		let resizeFrame = 0;

		if (typeof window.uPlot !== 'function') {
			dom.placeholder.textContent = 'The chart library ' +
			    'did not load (vendor/uPlot.iife.min.js); run ' +
			    'make to install it.';
			return;
		}
		if (!Smooth || !ViewState || !Series) {
			dom.placeholder.textContent = 'The dashboard is ' +
			    'incomplete: smooth.js, viewstate.js or ' +
			    'series.js did not load.';
			return;
		}
		applyTheme(loadTheme());
		readHash();
		bindControls();
		renderControls();
		window.addEventListener('hashchange', () => {
			if (readHash()) {
				writeHash();
				viewChanged();
			}
		});
		document.addEventListener('visibilitychange', () => {
			if (!document.hidden)
				schedule();
		});
		darkQuery.addEventListener('change', redrawAll);
		if ('IntersectionObserver' in window)
			state.observer = new IntersectionObserver(onSeen,
			    { rootMargin: '400px 0px' });
		new ResizeObserver(() => {
			cancelAnimationFrame(resizeFrame);
			resizeFrame = requestAnimationFrame(resizeCharts);
		}).observe(dom.view);
		tick();
	}

	/* Charts coming near the screen fetch what they lack. */
	function onSeen(entries) {
		let more = false;

		for (const e of entries) {
			const c = findChart(e.target);
			if (!c)
				continue;
			if (e.isIntersecting && !c.inView)
				more = true;
			c.inView = e.isIntersecting;
		}
		if (more) {
			redrawDirty();
			schedule();
		}
	}

	function findChart(card) {
		for (const c of state.charts.values()) {
			if (c.card === card)
				return c;
		}
		for (const c of state.contribs.values()) {
			if (c.card === card)
				return c;
		}
		return null;
	}

	/* ---- the test hook ---- */

	function hookValue(v) {
		return v === undefined || v === null ? v : Series.jsonValue(v);
	}

	function snapshot(chart) {
		const u = chart.u;
		const per = state.view.smooth > 0 ? 2 : 1;

		return {
			metric: chart.metric,
			kind: chart.kind,
			width: u.bbox.width / (window.devicePixelRatio || 1),
			xRange: [u.scales.x.min, u.scales.x.max],
			yRange: [u.scales.y.min, u.scales.y.max],
			log: chart.log,
			nonFinite: chart.nonFinite.map((n) => ({
				run: n.run, split: n.split, step: n.step,
				value: Series.exact(n.value),
			})),
			lines: chart.built.map((l, k) => {
				const raw = u.data[1 + k * per];
				const sm = per === 2 ? u.data[2 + k * per] :
				    null;
				const given = (ys) => ys.filter((v) =>
				    v !== undefined && v !== null).length;
				return {
					run: l.run, split: l.split,
					colour: l.colour, dash: l.dash,
					rawAlpha: u.series[1 + k * per].alpha,
					rawDrawn: given(raw[1]),
					gaps: raw[1].filter((v) => v === null)
					    .length,
					steps: l.steps.slice(),
					xs: raw[0].slice(),
					values: l.values.map(hookValue),
					smoothed: l.smoothed ?
					    l.smoothed.map(hookValue) : null,
					drawn: given((sm || raw)[1]),
				};
			}),
		};
	}

	function contribSnapshot(c) {
		return {
			run: c.run, split: c.split, mode: state.view.contrib,
			steps: c.data.steps.slice(),
			nonFinite: c.nonFinite.map((n) => ({ step: n.step,
			    value: Series.exact(n.value) })),
			terms: c.terms.map((l, k) => ({
				name: l.name, weight: l.weight,
				parts: c.data.parts[k].map(hookValue),
				layer: c.u ? c.u.data[k + 1].slice() : [],
			})),
		};
	}

	Object.defineProperty(window, 'lossmon', {
		value: Object.freeze({
			get view() {
				return JSON.parse(JSON.stringify(state.view));
			},
			get refreshes() {
				return state.refreshes;
			},
			get historyRequests() {
				return state.historyRequests;
			},
			get rows() {
				return shownRows().map((tr) => {
					const n = tr.querySelector('input')
					    .dataset.run;
					return {
						name: n,
						chosen: state.view.runs
						    .includes(n),
						colour: runColour(n),
					};
				});
			},
			get charts() {
				return Array.from(state.charts.values())
				    .filter((c) => c.u).map(snapshot);
			},
			get contributions() {
				return Array.from(state.contribs.values())
				    .filter((c) => c.data)
				    .map(contribSnapshot);
			},
		}),
	});

	start();
})();
