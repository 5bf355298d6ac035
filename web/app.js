/*
 * lossmon dashboard: the list of runs, and for the chosen run one uPlot
 * chart per metric (each loss term, the weighted total, each scalar) with
 * one line per split over the step.
 *
 * The chosen run lives in the address bar (#run=NAME), so a link
 * reproduces the view. The page polls about once a second. While the
 * chosen run is being posted to it fetches, for each series, only the
 * points from its last known step on (inclusive: the newest step may
 * still be accumulating batches, so its value can change) and merges
 * them into what it holds. History requests ask for about as many points
 * as the chart is wide in CSS pixels.
 *
 * JSON has no NaN or Infinity, so the API sends the strings "NaN",
 * "Infinity" and "-Infinity". Such a point is a gap in its line, marked
 * by a dashed vertical line with a label, and listed below the chart.
 *
 * Test hook (read-only; nothing in the page reads it back):
 *   window.lossmon.run        the chosen run's name, or null
 *   window.lossmon.refreshes  how many polling rounds have finished
 *   window.lossmon.charts     on each read, a fresh array with one entry
 *     per chart, in page order:
 *       { metric, kind, steps, series: [{ split, points, values }],
 *         nonFinite: [{ split, step, value }] }
 *     steps and values are copies of the arrays handed to uPlot: values
 *     holds a number, null for a non-finite point (drawn as a gap), or
 *     undefined where the split has no point at that step; points counts
 *     the entries that are not undefined. value in nonFinite is the
 *     API's string ("NaN", "Infinity", "-Infinity").
 */
'use strict';

(function () {
	const API = 'api/v1';
	const TICK_MS = 1000;
	/* Keep polling this long after the run last changed: last_time has
	 * one-second resolution, so a post in the second already seen
	 * changes nothing the run list shows. */
	const ACTIVE_MS = 5000;
	const CHART_HEIGHT = 220;
	/* Height of the row above each plot that marks non-finite values. */
	const MARK_ROW = 18;
	/* Above this many points per chart pixel, reload downsampled. */
	const MAX_GROWTH = 3;
	const MAX_NONFINITE_LISTED = 8;

	/* Okabe-Ito colours, told apart with the common colour-vision
	 * deficiencies; the dash patterns help in grey too. */
	const PALETTE = {
		light: ['#0072B2', '#D55E00', '#009E73', '#CC79A7',
			'#E69F00', '#56B4E9', '#000000'],
		dark: ['#56B4E9', '#E69F00', '#009E73', '#CC79A7',
			'#F0E442', '#D55E00', '#FFFFFF'],
	};
	const DASHES = [null, [7, 4], [2, 3], [9, 3, 2, 3]];
	const SPLIT_SLOT = {
		train: 0, training: 0,
		val: 1, valid: 1, validation: 1, eval: 1, dev: 1,
		test: 2,
	};

	const $ = (id) => document.getElementById(id);
	const dom = {
		status: $('status'),
		filter: $('filter'),
		runCount: $('run-count'),
		runList: $('run-list'),
		view: $('view'),
		runHead: $('run-head'),
		runName: $('run-name'),
		runFacts: $('run-facts'),
		logScale: $('log-scale'),
		placeholder: $('placeholder'),
		charts: $('charts'),
	};
	const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

	const state = {
		runs: [],
		byName: new Map(),
		items: new Map(),	/* run name -> its <li> */
		view: null,
		loadedRuns: false,
		refreshes: 0,
		timer: null,
		busy: false,
		again: false,
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

	function fmt(v) {
		if (Number.isNaN(v))
			return 'NaN';
		if (v === Infinity)
			return '+∞';
		if (v === -Infinity)
			return '−∞';
		if (v === 0 || (Math.abs(v) >= 1e-4 && Math.abs(v) < 1e6))
			return String(Number(v.toPrecision(5)));
		return v.toExponential(3);
	}

	function apiString(v) {
		if (Number.isNaN(v))
			return 'NaN';
		return v > 0 ? 'Infinity' : '-Infinity';
	}

	/* The API's value: a number or one of three strings. Anything else
	 * is not a number either, so it shows as NaN. */
	function parseValue(v) {
		if (typeof v === 'number')
			return v;
		if (v === 'Infinity')
			return Infinity;
		if (v === '-Infinity')
			return -Infinity;
		return NaN;
	}

	function clock(unix) {
		if (unix === null || unix === undefined)
			return '';
		return new Date(unix * 1000).toLocaleTimeString();
	}

	function dateTime(unix) {
		return new Date(unix * 1000).toLocaleString();
	}

	function setStatus(text, bad) {
		if (dom.status.textContent !== text)
			dom.status.textContent = text;
		dom.status.classList.toggle('bad', Boolean(bad));
	}

	function runPath(name) {
		return API + '/runs/' + encodeURIComponent(name);
	}

	/* Resolves to the parsed body; rejects with an Error carrying the
	 * API's message and the HTTP status. */
	async function getJSON(path) {
		const res = await fetch(path, {
			headers: { Accept: 'application/json' },
			cache: 'no-store',
		});
		let body = null;

		try {
			body = await res.json();
		} catch (e) {
			body = null;
		}
		if (!res.ok) {
			const api = body && body.error ? body.error : {};
			const err = new Error(api.message ||
			    'HTTP ' + res.status);
			err.status = res.status;
			throw err;
		}
		return body;
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

	function pairs(obj) {
		return Object.keys(obj || {}).map((k) => k + '=' + obj[k]);
	}

	/* ---- address bar ---- */

	function hashRun() {
		const params = new URLSearchParams(location.hash.slice(1));

		return params.get('run') || null;
	}

	function runHref(name) {
		return '#run=' + encodeURIComponent(name);
	}

	/* ---- run list ---- */

	function runMatches(run, words) {
		const hay = [run.name]
		    .concat((run.losses || []).map((l) => l.name + ' ' +
		    l.type))
		    .concat(pairs(run.tags))
		    .join(' ').toLowerCase();

		return words.every((w) => hay.includes(w));
	}

	function fillRunItem(a, run) {
		const losses = (run.losses || [])
		    .map((l) => l.name + '×' + l.weight).join(' + ');
		const tags = el('span', 'run-tags');
		let step = 'no steps yet';

		a.replaceChildren();
		a.append(el('span', 'run-name', run.name));
		a.append(el('span', 'run-losses', losses));
		for (const t of pairs(run.tags))
			tags.append(el('span', 'tag', t));
		if (tags.childElementCount)
			a.append(tags);
		if (run.last_step !== null && run.last_step !== undefined)
			step = 'step ' + run.last_step + ' · ' +
			    clock(run.last_time);
		a.append(el('span', 'run-step', step));
	}

	/* Updates the list in place, so focus and hover survive a poll. */
	function renderRunList() {
		const words = dom.filter.value.toLowerCase().split(/\s+/)
		    .filter(Boolean);
		const current = state.view ? state.view.name : null;
		let prev = null;
		let shown = 0;

		for (const run of state.runs) {
			let li = state.items.get(run.name);
			const sig = JSON.stringify(run);

			if (!li) {
				li = el('li');
				li.append(el('a', 'run'));
				li.firstChild.href = runHref(run.name);
				state.items.set(run.name, li);
			}
			if (li.dataset.sig !== sig) {
				fillRunItem(li.firstChild, run);
				li.dataset.sig = sig;
			}
			const at = prev ? prev.nextSibling :
			    dom.runList.firstChild;
			if (at !== li)
				dom.runList.insertBefore(li, at);
			li.hidden = !runMatches(run, words);
			if (!li.hidden)
				shown++;
			const a = li.firstChild;
			if (run.name === current)
				a.setAttribute('aria-current', 'page');
			else
				a.removeAttribute('aria-current');
			prev = li;
		}
		for (const [name, li] of state.items) {
			if (!state.byName.has(name)) {
				li.remove();
				state.items.delete(name);
			}
		}
		if (shown === state.runs.length)
			dom.runCount.textContent = shown +
			    (shown === 1 ? ' run' : ' runs');
		else
			dom.runCount.textContent = shown + ' of ' +
			    state.runs.length + ' runs match';
	}

	function visibleRunLinks() {
		const sel = 'li:not([hidden]) a';

		return Array.from(dom.runList.querySelectorAll(sel));
	}

	/* Arrow keys walk the list; Tab still moves through it too. */
	function onListKey(ev) {
		const links = visibleRunLinks();
		const i = links.indexOf(document.activeElement);
		let next = null;

		if (ev.key === 'ArrowDown')
			next = links[i + 1];
		else if (ev.key === 'ArrowUp')
			next = i > 0 ? links[i - 1] : dom.filter;
		else if (ev.key === 'Home')
			next = links[0];
		else if (ev.key === 'End')
			next = links[links.length - 1];
		if (next) {
			ev.preventDefault();
			next.focus();
		}
	}

	function onFilterKey(ev) {
		const links = visibleRunLinks();

		if (ev.key === 'ArrowDown' && links.length) {
			ev.preventDefault();
			links[0].focus();
		}
	}

	/* ---- the chosen run ---- */

	function newView(name) {
		return {
			name: name,
			run: null,
			series: new Map(),	/* metric \0 split -> series */
			kinds: new Map(),	/* metric -> kind */
			charts: new Map(),	/* metric -> chart */
			order: '',
			slots: new Map(),	/* split -> colour slot */
			loaded: false,
			lastTime: undefined,
			lastStep: undefined,
			activeUntil: 0,
			maxPoints: 0,
			reload: false,
		};
	}

	function destroyView() {
		const view = state.view;

		if (!view)
			return;
		for (const chart of view.charts.values()) {
			if (chart.u)
				chart.u.destroy();
		}
		dom.charts.replaceChildren();
		state.view = null;
	}

	/* Follows the address bar; returns true when the run changed. */
	function selectFromHash() {
		const name = hashRun();

		if (state.view && state.view.name === name)
			return false;
		destroyView();
		if (name)
			state.view = newView(name);
		renderRunHead();
		renderRunList();
		return true;
	}

	/* With no run in the address bar, show the one updated last. */
	function chooseDefaultRun() {
		let best = null;

		if (hashRun() || !state.runs.length)
			return;
		for (const run of state.runs) {
			if (!best || (run.last_time || run.created) >
			    (best.last_time || best.created))
				best = run;
		}
		history.replaceState(null, '', runHref(best.name));
		selectFromHash();
	}

	function fact(term, value) {
		const dt = el('dt', null, term);
		const dd = el('dd', null, value);

		dom.runFacts.append(dt, dd);
	}

	function renderRunHead() {
		const view = state.view;
		const run = view ? view.run : null;
		const sig = run ? JSON.stringify(run) : '';

		if (!run) {
			dom.runHead.hidden = true;
			dom.runHead.dataset.sig = '';
			document.title = view ? view.name + ' · lossmon' :
			    'lossmon';
			return;
		}
		document.title = run.name + ' · lossmon';
		dom.runHead.hidden = false;
		if (dom.runHead.dataset.sig === sig)
			return;
		dom.runHead.dataset.sig = sig;
		dom.runName.textContent = run.name;
		dom.runFacts.replaceChildren();
		fact('Losses', (run.losses || []).map(lossText).join(' + '));
		if (pairs(run.tags).length)
			fact('Tags', pairs(run.tags).join(', '));
		if (pairs(run.params).length)
			fact('Parameters', pairs(run.params).join(', '));
		fact('Last step', run.last_step === null ? 'none yet' :
		    run.last_step + ' at ' + clock(run.last_time));
		fact('Created', dateTime(run.created));
	}

	function showPlaceholder(text) {
		dom.placeholder.hidden = !text;
		dom.placeholder.textContent = text || '';
	}

	/* ---- fetching and merging history ---- */

	function seriesKey(metric, split) {
		return metric + '\0' + split;
	}

	function historyURL(view, s, from, maxPoints) {
		const q = new URLSearchParams({
			metric: s.metric,
			split: s.split,
			max_points: String(maxPoints),
		});

		if (from !== null)
			q.set('from', String(from));
		return runPath(view.name) + '/history?' + q;
	}

	/* Replaces the points from `from` on with those fetched; returns
	 * whether anything changed. */
	function mergePoints(s, fetched, from) {
		const pts = fetched.map((p) => [p[0], parseValue(p[1])]);
		let keep = s.points.length;

		if (from !== null) {
			while (keep > 0 && s.points[keep - 1][0] >= from)
				keep--;
		} else {
			keep = 0;
		}
		const old = s.points.slice(keep);
		const same = old.length === pts.length && old.every((p, i) =>
		    p[0] === pts[i][0] && Object.is(p[1], pts[i][1]));
		if (same)
			return false;
		s.points = s.points.slice(0, keep).concat(pts);
		return true;
	}

	/* Fetches one series: all of it (downsampled to maxPoints) when it
	 * is new or has grown too dense, else from its last step on. */
	async function fetchSeries(view, s, m, maxPoints) {
		const last = s.points.length ?
		    s.points[s.points.length - 1][0] : null;
		let from = last;

		if (view.reload || last === null ||
		    s.points.length > MAX_GROWTH * maxPoints ||
		    m.last_step < last || s.firstStep !== m.first_step)
			from = null;
		const body = await getJSON(historyURL(view, s, from,
		    maxPoints));
		if (state.view !== view)
			return false;
		s.firstStep = m.first_step;
		s.total = m.points;
		return mergePoints(s, body.points || [], from);
	}

	async function refreshSeries(view) {
		const body = await getJSON(runPath(view.name) + '/metrics');
		const maxPoints = plotWidth();
		const jobs = [];

		if (state.view !== view)
			return;
		for (const m of body.metrics || []) {
			const key = seriesKey(m.name, m.split);
			let s = view.series.get(key);

			if (!s) {
				s = { metric: m.name, split: m.split,
				    points: [], firstStep: null, total: 0 };
				view.series.set(key, s);
			}
			view.kinds.set(m.name, m.kind);
			jobs.push(fetchSeries(view, s, m, maxPoints));
		}
		const changed = await Promise.all(jobs);
		if (state.view !== view)
			return;
		view.reload = false;
		view.maxPoints = maxPoints;
		view.loaded = true;
		if (changed.some(Boolean) || !view.charts.size)
			updateCharts(view);
	}

	/* One polling round for the chosen run. */
	async function refreshView() {
		const view = state.view;
		const now = Date.now();

		if (!view) {
			showPlaceholder(state.runs.length ?
			    'Choose a run from the list.' :
			    'No runs yet. A training job creates one by ' +
			    'posting to /api/v1/runs/NAME/batches.');
			return;
		}
		const run = state.byName.get(view.name);
		if (!run) {
			destroyView();
			state.view = newView(view.name);
			renderRunHead();
			showPlaceholder('There is no run named “' +
			    view.name + '”.');
			return;
		}
		if (view.run && view.run.created !== run.created) {
			/* Deleted and made anew under the same name. */
			destroyView();
			state.view = newView(run.name);
			return refreshView();
		}
		view.run = run;
		renderRunHead();
		if (run.last_time !== view.lastTime ||
		    run.last_step !== view.lastStep) {
			view.lastTime = run.last_time;
			view.lastStep = run.last_step;
			view.activeUntil = now + ACTIVE_MS;
		}
		if (!view.loaded)
			showPlaceholder('Loading ' + view.name + '…');
		if (view.loaded && now >= view.activeUntil && !view.reload)
			return;
		await refreshSeries(view);
		if (state.view === view && !view.series.size)
			showPlaceholder('Run ' + view.name +
			    ' has no points yet.');
	}

	/* ---- charts ---- */

	function theme() {
		const css = getComputedStyle(document.documentElement);

		return {
			name: darkQuery.matches ? 'dark' : 'light',
			text: css.getPropertyValue('--text').trim(),
			muted: css.getPropertyValue('--muted').trim(),
			grid: css.getPropertyValue('--grid').trim(),
		};
	}

	function splitSlot(view, split) {
		if (!view.slots.has(split)) {
			const used = new Set(view.slots.values());
			let slot = SPLIT_SLOT[split.toLowerCase()];

			if (slot === undefined || used.has(slot)) {
				slot = 3;
				while (used.has(slot))
					slot++;
			}
			view.slots.set(split, slot);
		}
		return view.slots.get(split);
	}

	function splitColour(view, split) {
		const pal = PALETTE[darkQuery.matches ? 'dark' : 'light'];

		return pal[splitSlot(view, split) % pal.length];
	}

	function splitDash(view, split) {
		return DASHES[splitSlot(view, split) % DASHES.length];
	}

	function kindRank(kind) {
		return { total: 0, loss: 1, scalar: 2 }[kind] ?? 3;
	}

	/* Total first, then the loss terms in the run's order, then the
	 * scalars by name. */
	function chartOrder(view) {
		const losses = ((view.run && view.run.losses) || [])
		    .map((l) => l.name);
		const metrics = Array.from(view.kinds.keys());
		const termRank = (m) => losses.includes(m) ?
		    losses.indexOf(m) : losses.length;

		return metrics.sort((a, b) => {
			const ka = kindRank(view.kinds.get(a));
			const kb = kindRank(view.kinds.get(b));
			if (ka !== kb)
				return ka - kb;
			if (termRank(a) !== termRank(b))
				return termRank(a) - termRank(b);
			return a < b ? -1 : a > b ? 1 : 0;
		});
	}

	function splitsOf(view, metric) {
		const list = [];

		for (const s of view.series.values()) {
			if (s.metric === metric)
				list.push(s);
		}
		return list.sort((a, b) => splitSlot(view, a.split) -
		    splitSlot(view, b.split) || (a.split < b.split ? -1 : 1));
	}

	/* uPlot wants one x array shared by all lines: the union of the
	 * splits' steps. undefined marks "no point here", which uPlot
	 * bridges; null marks a non-finite value, which it leaves as a
	 * gap. */
	function buildData(view, metric) {
		const list = splitsOf(view, metric);
		const stepSet = new Set();
		const nonFinite = [];
		let positive = true;

		for (const s of list) {
			for (const p of s.points)
				stepSet.add(p[0]);
		}
		const steps = Array.from(stepSet).sort((a, b) => a - b);
		const index = new Map(steps.map((st, i) => [st, i]));
		const data = [steps];
		for (const s of list) {
			const ys = new Array(steps.length).fill(undefined);
			for (const [step, v] of s.points) {
				if (Number.isFinite(v)) {
					ys[index.get(step)] = v;
					positive = positive && v > 0;
				} else {
					ys[index.get(step)] = null;
					nonFinite.push({ split: s.split,
					    step: step, value: v });
				}
			}
			data.push(ys);
		}
		nonFinite.sort((a, b) => a.step - b.step);
		return { list, data, nonFinite, positive };
	}

	function chartTitle(view, metric, kind) {
		const loss = ((view.run && view.run.losses) || [])
		    .find((l) => l.name === metric);

		if (kind === 'total')
			return ['total', 'weighted sum of the loss terms'];
		if (loss)
			return [metric, 'loss term ' + lossText(loss)];
		return [metric, kind === 'scalar' ? 'scalar' : kind];
	}

	function createCard(view, metric) {
		const card = el('section', 'chart');
		const id = 'chart-' + view.charts.size;
		const [title, sub] = chartTitle(view, metric,
		    view.kinds.get(metric));
		const h = el('h3', null, title);
		const plot = el('div', 'plot');

		h.id = id;
		h.append(' ', el('span', 'sub', sub));
		card.setAttribute('aria-labelledby', id);
		plot.setAttribute('role', 'img');
		card.append(h, plot);
		const summary = el('p', 'summary');
		const nonFinite = el('p', 'nonfinite');
		nonFinite.hidden = true;
		card.append(summary, nonFinite);
		return { metric, card, plot, summary, nonFiniteEl: nonFinite,
		    u: null, sig: '', list: [], nonFinite: [] };
	}

	/* Width of a chart's drawing area in CSS pixels, measured on an
	 * existing chart or on an empty card laid out like one. */
	function plotWidth() {
		let probe = dom.charts.querySelector('.plot');
		let card = null;
		let w;

		if (!probe) {
			card = el('section', 'chart');
			probe = el('div', 'plot');
			card.append(probe);
			dom.charts.append(card);
		}
		w = probe.clientWidth;
		if (card)
			card.remove();
		return Math.max(50, Math.round(w || 600));
	}

	function lastFinite(s) {
		for (let i = s.points.length - 1; i >= 0; i--) {
			if (Number.isFinite(s.points[i][1]))
				return s.points[i];
		}
		return null;
	}

	/* Legend text: the value under the cursor, or the newest one when
	 * the cursor is elsewhere. uPlot hands each line its point nearest
	 * to the cursor, so say which step that is when it is another. */
	function legendValue(chart, u, si, idx, v) {
		const s = chart.list[si - 1];
		let text = '—';

		if (!s)
			return '';
		if (idx === null || idx === undefined) {
			const p = s.points[s.points.length - 1];
			return p ? fmt(p[1]) + ' @ ' + p[0] : '—';
		}
		const step = u.data[0][idx];
		if (typeof v === 'number') {
			text = fmt(v);
		} else if (v === null) {
			const p = s.points.find((q) => q[0] === step);
			text = p ? fmt(p[1]) : '—';
		}
		if (text !== '—' && u.cursor.idx !== idx)
			text += ' @ ' + step;
		return text;
	}

	/* Shows points where they are few enough to tell apart, so that a
	 * split with a handful of steps (validation, say) is visible. */
	function pointsShow(u, si, i0, i1) {
		const ys = u.data[si];
		const pr = window.devicePixelRatio || 1;
		const room = u.bbox.width / (8 * pr);
		let n = 0;

		for (let i = i0; i <= i1 && n <= room; i++) {
			if (ys[i] !== undefined && ys[i] !== null)
				n++;
		}
		return n <= room;
	}

	function axisSize(u, values) {
		const longest = Math.max(0, ...(values || [])
		    .map((v) => String(v).length));

		return Math.ceil(longest * 7 + 18);
	}

	/* Marks non-finite values: a dashed line across the plot, and a
	 * triangle with the value in the split's colour on a marker row
	 * kept free above the plot. */
	function drawNonFinite(view, chart, u) {
		const ctx = u.ctx;
		const pr = window.devicePixelRatio || 1;
		const { left, top, width, height } = u.bbox;
		const row = MARK_ROW * pr;
		const visible = chart.nonFinite.filter((nf) => {
			const x = u.valToPos(nf.step, 'x', true);
			return x >= left - 1 && x <= left + width + 1;
		});
		const labels = visible.length <= 12;

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
			const x = Math.round(u.valToPos(nf.step, 'x', true)) +
			    0.5;
			const mid = top - row / 2;
			const colour = splitColour(view, nf.split);
			ctx.strokeStyle = colour;
			ctx.fillStyle = colour;
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
				const text = fmt(nf.value);
				const tw = ctx.measureText(text).width;
				const tx = x + 7 * pr + tw > left + width ?
				    x - 7 * pr - tw : x + 7 * pr;
				ctx.fillText(text, tx, mid);
			}
		}
		ctx.restore();
	}

	function chartOptions(view, chart, width, log) {
		const th = theme();
		const axis = {
			stroke: th.text,
			grid: { stroke: th.grid, width: 1 },
			ticks: { stroke: th.grid, width: 1 },
			font: '12px system-ui, sans-serif',
			labelFont: '12px system-ui, sans-serif',
		};
		const series = [{
			label: 'step',
			value: (u, v) => v === null || v === undefined ?
			    '—' : String(v),
		}];

		for (const s of chart.list) {
			const colour = splitColour(view, s.split);
			series.push({
				label: s.split,
				stroke: colour,
				width: 2,
				dash: splitDash(view, s.split) || undefined,
				spanGaps: false,
				points: { show: pointsShow, size: 7,
				    width: 1.5, fill: colour, stroke: colour },
				value: (u, v, si, idx) =>
				    legendValue(chart, u, si, idx, v),
			});
		}
		return {
			width: width,
			height: CHART_HEIGHT,
			scales: {
				x: { time: false },
				y: log ? { distr: 3 } : {},
			},
			series: series,
			padding: [MARK_ROW, null, null, null],
			axes: [
				Object.assign({ label: 'step' }, axis),
				Object.assign({ size: axisSize }, axis),
			],
			cursor: { sync: { key: 'lossmon' } },
			legend: {
				live: true,
				markers: {
					dash: (u, si) => u.series[si].dash ?
					    'dashed' : 'solid',
				},
			},
			hooks: {
				draw: [(u) => drawNonFinite(view, chart, u)],
			},
		};
	}

	function summaryText(chart) {
		return chart.list.map((s) => {
			const p = lastFinite(s);
			let t = s.split + ': ' + s.total + ' step' +
			    (s.total === 1 ? '' : 's');
			if (s.points.length < s.total)
				t += ' (' + s.points.length + ' drawn)';
			if (p)
				t += ', latest ' + fmt(p[1]) + ' at step ' +
				    p[0];
			return t;
		}).join('; ') + '.';
	}

	function nonFiniteText(chart) {
		const nf = chart.nonFinite;
		const shown = nf.slice(0, MAX_NONFINITE_LISTED).map((n) =>
		    apiString(n.value) + ' at step ' + n.step + ' (' +
		    n.split + ')');
		let t = 'Not finite: ' + shown.join(', ');

		if (nf.length > shown.length)
			t += ', and ' + (nf.length - shown.length) + ' more';
		return t + '.';
	}

	function renderChartText(chart) {
		const splits = chart.list.map((s) => s.split).join(' and ');

		chart.plot.setAttribute('aria-label', 'Chart of ' +
		    chart.metric + ' by step for ' + splits +
		    '; the text below gives the latest values.');
		chart.summary.textContent = summaryText(chart);
		chart.nonFiniteEl.hidden = !chart.nonFinite.length;
		chart.nonFiniteEl.textContent = chart.nonFinite.length ?
		    nonFiniteText(chart) : '';
	}

	function drawChart(view, chart, built) {
		const log = dom.logScale.checked && built.positive;
		const sig = [theme().name, log].concat(built.list.map((s) =>
		    s.split)).join('\0');

		chart.list = built.list;
		chart.nonFinite = built.nonFinite;
		if (!chart.u || chart.sig !== sig) {
			if (chart.u)
				chart.u.destroy();
			chart.plot.replaceChildren();
			chart.u = new uPlot(chartOptions(view, chart,
			    chart.plot.clientWidth || plotWidth(), log),
			    built.data, chart.plot);
			chart.sig = sig;
		} else {
			/* Keep a zoom the user made while new points come. */
			const u = chart.u;
			const xs = u.data[0];
			const zoomed = xs.length > 0 &&
			    (u.scales.x.min > xs[0] ||
			    u.scales.x.max < xs[xs.length - 1]);
			u.setData(built.data, !zoomed);
			if (zoomed)
				u.redraw(false, true);
		}
		renderChartText(chart);
	}

	function updateCharts(view) {
		const order = chartOrder(view);

		for (const metric of order) {
			let chart = view.charts.get(metric);
			if (!chart) {
				chart = createCard(view, metric);
				view.charts.set(metric, chart);
				dom.charts.append(chart.card);
			}
			drawChart(view, chart, buildData(view, metric));
		}
		if (view.order !== order.join('\0')) {
			for (const metric of order) {
				const chart = view.charts.get(metric);
				dom.charts.append(chart.card);
			}
			view.order = order.join('\0');
		}
		showPlaceholder(order.length ? '' : 'Run ' + view.name +
		    ' has no points yet.');
	}

	/* Redraws every chart from what is held, e.g. after the colour
	 * scheme or the axis choice changed. */
	function redrawAll() {
		const view = state.view;

		if (!view)
			return;
		for (const chart of view.charts.values())
			chart.sig = '';
		updateCharts(view);
	}

	function resizeCharts() {
		const view = state.view;

		if (!view)
			return;
		for (const chart of view.charts.values()) {
			const w = chart.plot.clientWidth;
			if (chart.u && w && w !== chart.u.width)
				chart.u.setSize({ width: w,
				    height: CHART_HEIGHT });
		}
		/* Much wider than what was fetched: fetch finer points. */
		if (view.maxPoints && plotWidth() > 1.5 * view.maxPoints) {
			view.reload = true;
			tick();
		}
	}

	/* ---- polling ---- */

	async function refreshRuns() {
		const body = await getJSON(API + '/runs');

		state.runs = body.runs || [];
		state.byName = new Map(state.runs.map((r) => [r.name, r]));
		state.loadedRuns = true;
		renderRunList();
		chooseDefaultRun();
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
			await refreshRuns();
			await refreshView();
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

	/* The axis choice is a viewing preference, not part of the view a
	 * link shares, so it is kept in the browser. Storage may be off. */
	const LOG_KEY = 'lossmon.logScale';

	function loadLogScale() {
		try {
			return localStorage.getItem(LOG_KEY) === '1';
		} catch (e) {
			return false;
		}
	}

	function saveLogScale(on) {
		try {
			localStorage.setItem(LOG_KEY, on ? '1' : '0');
		} catch (e) {
			/* only the preference is lost */
		}
	}

	/* ---- start ---- */

	function start() {
		let resizeFrame = 0;

		if (typeof window.uPlot !== 'function') {
			showPlaceholder('The chart library did not load ' +
			    '(vendor/uPlot.iife.min.js); run make to ' +
			    'install it.');
			return;
		}
		window.addEventListener('hashchange', () => {
			if (selectFromHash())
				tick();
		});
		document.addEventListener('visibilitychange', () => {
			if (!document.hidden)
				tick();
		});
		/* The address bar's fragment names the run, so the skip link
		 * moves focus itself instead of changing it. */
		document.querySelector('.skip').addEventListener('click',
		    (ev) => {
			ev.preventDefault();
			dom.view.focus();
		});
		dom.filter.addEventListener('input', renderRunList);
		dom.filter.addEventListener('keydown', onFilterKey);
		dom.runList.addEventListener('keydown', onListKey);
		dom.logScale.checked = loadLogScale();
		dom.logScale.addEventListener('change', () => {
			saveLogScale(dom.logScale.checked);
			redrawAll();
		});
		darkQuery.addEventListener('change', redrawAll);
		new ResizeObserver(() => {
			cancelAnimationFrame(resizeFrame);
			resizeFrame = requestAnimationFrame(resizeCharts);
		}).observe(dom.charts);
		selectFromHash();
		tick();
	}

	/* A chart as the test hook shows it: copies of the uPlot data. */
	function snapshot(view, c) {
		const series = c.list.map((s, i) => {
			const values = c.u.data[i + 1].slice();
			return {
				split: s.split,
				points: values.filter((v) => v !== undefined)
				    .length,
				values: values,
			};
		});
		const nonFinite = c.nonFinite.map((n) => ({
			split: n.split,
			step: n.step,
			value: apiString(n.value),
		}));

		return {
			metric: c.metric,
			kind: view.kinds.get(c.metric),
			steps: c.u.data[0].slice(),
			series: series,
			nonFinite: nonFinite,
		};
	}

	Object.defineProperty(window, 'lossmon', {
		value: Object.freeze({
			get run() {
				return state.view ? state.view.name : null;
			},
			get refreshes() {
				return state.refreshes;
			},
			get charts() {
				const view = state.view;
				if (!view)
					return [];
				return chartOrder(view)
				    .map((m) => view.charts.get(m))
				    .filter((c) => c && c.u)
				    .map((c) => snapshot(view, c));
			},
		}),
	});

	start();
})();
