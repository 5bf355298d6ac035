// The dashboard in a real browser against a real lossmond.
//
// Starts the daemon on an ephemeral loopback port with a fresh SQLite
// file and posts two runs: "demo-run" (mse + 0.5 mae, train steps
// 0..LAST with a NaN at step 7, validation every 20 steps, scalars lr,
// a constant, a signed one and one with an Infinity at step 12), and a
// run whose name holds a slash, spaces, "%&#+=,\"" and Greek letters.
// Then it opens the page in headless Chromium (playwright-core) and does
// what a person would, checking what is drawn through the page's
// read-only hook (window.lossmon, see web/app.js) against the daemon's
// history: the table, the charts, NaN and infinity marks, hover, a point
// posted during the test, smoothing, zoom, overlay, the download, the
// axes, the contributions of the loss terms, the keyboard, a narrow
// window and the dark theme. Screenshots go to LOSSMON_SHOTS_DIR (the
// README's) or a temporary folder.
//
// Environment and skipping: see tests/dashboard_lib.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import {
	TOP, DEADLINE, requireBrowser, workspace, startDaemon, api, runURL,
	openBrowser, waitFor, chartOf, lineOf,
} from './dashboard_lib.mjs';

const pw = requireBrowser();
const { smooth } = createRequire(import.meta.url)(
    path.join(TOP, 'web', 'smooth.js'));

const RUN = 'demo-run';
const OTHER = 'other run/β %&#+=,"x';
const LAST = 120;
const NAN_STEP = 7;
const INF_STEP = 12;
const VAL_EVERY = 20;
const CONST = 0.1;

const ws = workspace('lossmon-dash-', 170000);
let daemon = null;
let base = null;
let br = null;
let page = null;

// ---- the data: losses that fall with the step, with some wobble ----

function batch(step, split, spread) {
	const targets = [0.5, -1, 2, 0.25];
	const wobble = 0.25 * Math.sin(step * 1.7) * Math.exp(-step / 60);
	const err = 2 * Math.exp(-step / 25) + spread + wobble;
	const predictions = targets.map((t, i) =>
	    t + (i % 2 ? -err : err) * (1 + i / 4));

	return { step, split, predictions, targets };
}

async function postRun(name, last, spread, withExtras) {
	const url = runURL(name);

	await api(base, 'PUT', url, {
		losses: [
			{ type: 'mse', name: 'mse', weight: 1 },
			{ type: 'mae', name: 'mae', weight: 0.5 },
		],
		params: { lr: 0.01, batch: 32 },
		tags: { model: withExtras ? 'mlp' : 'cnn', owner: 'tests' },
	});
	for (let step = 0; step <= last; step++) {
		const b = batch(step, 'train', spread);
		const values = { lr: 0.01 * Math.pow(0.97, step) };

		if (withExtras && step === NAN_STEP)
			b.predictions[1] = 'NaN';
		if (withExtras) {
			values.constant = CONST;
			values.signed = Math.sin(step / 9);
			values.grad = step === INF_STEP ? 'Infinity' :
			    1 + Math.cos(step / 5);
		}
		await api(base, 'POST', url + '/batches', b);
		await api(base, 'POST', url + '/scalars', { step, values });
		if (step % VAL_EVERY === 0 && step > 0)
			await api(base, 'POST', url + '/batches',
			    batch(step, 'val', spread + 0.3));
	}
}

async function history(run, metric, split, extra) {
	return (await api(base, 'GET', runURL(run) + '/history?metric=' +
	    encodeURIComponent(metric) + '&split=' +
	    encodeURIComponent(split) + (extra || ''))).points;
}

// ---- page helpers ----

function charts() {
	return page.evaluate(() => window.lossmon.charts);
}

function view() {
	return page.evaluate(() => window.lossmon.view);
}

function waitCharts(what, fn) {
	return waitFor(what, charts, fn);
}

// A screenshot of the window; the mouse moves away unless `hovering`.
async function shot(name, hovering) {
	const file = path.join(ws.shots, name);

	if (!hovering)
		await page.mouse.move(0, 0);
	await page.evaluate(() => document.activeElement.blur());
	await page.screenshot({ path: file });
	console.log('# screenshot: ' + file);
}

// Goes to a view given as the address bar's fragment and waits for the
// charts it shows to hold points.
async function goView(hash, what, fn) {
	await page.goto(base + '/' + hash);
	return waitCharts(what, fn);
}

// A chart's plot area on the page, and the page x of a value on it.
async function plotBox(metric) {
	const card = page.locator('#charts .chart').filter({
		has: page.locator('h3', { hasText: new RegExp('^' + metric +
		    '\\b') }),
	});
	const box = await card.locator('.u-over').boundingBox();

	return { card, box };
}

function xAt(box, chart, x) {
	const [x0, x1] = chart.xRange;

	return box.x + box.width * (x - x0) / (x1 - x0);
}

// An RFC 4180 reader for the download: quoted fields, doubled quotes.
function parseCSV(text) {
	const rows = [];
	let row = [];
	let field = '';
	let quoted = false;

	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') {
				field += '"';
				i++;
			} else if (c === '"') {
				quoted = false;
			} else {
				field += c;
			}
		} else if (c === '"') {
			quoted = true;
		} else if (c === ',') {
			row.push(field);
			field = '';
		} else if (c === '\r' && text[i + 1] === '\n') {
			row.push(field);
			rows.push(row);
			row = [];
			field = '';
			i++;
		} else {
			field += c;
		}
	}
	assert.equal(field + row.join(''), '', 'CSV ends with CRLF');
	return rows;
}

function exact(v) {
	return typeof v === 'number' ? String(v) : v;
}

before(async () => {
	daemon = await startDaemon(ws, path.join(ws.tmp, 't.db'));
	base = daemon.base;
	await Promise.all([postRun(RUN, LAST, 0.05, true),
	    postRun(OTHER, 60, 0.4, false)]);
	br = await openBrowser(pw, ws, base);
	page = br.page;
	await page.goto(base + '/#runs=' + encodeURIComponent(RUN));
});

after(async () => {
	if (br)
		await br.context.close().catch(() => {});
	// A clean stop, so that a daemon under LOSSMON_WRAPPER (valgrind)
	// reports its leaks and errors as a failure.
	if (daemon)
		await daemon.stop();
});

// ---- the checks ----

test('the page has no inline script, style or handler', () => {
	const html = fs.readFileSync(path.join(TOP, 'web', 'index.html'),
	    'utf8');

	assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i);
	assert.doesNotMatch(html, /<style/i);
	assert.doesNotMatch(html, /\sstyle=/i);
	assert.doesNotMatch(html, /\son[a-z]+=/i);
});

test('the table shows each run with terms, weights, params, tags, last ' +
    'step, last and best total', async () => {
	const runs = (await api(base, 'GET', '/api/v1/runs')).runs;
	const rows = await waitFor('two rows', () => page.evaluate(() =>
	    Array.from(document.querySelectorAll('#run-rows tr'))
	    .map((tr) => ({
		name: tr.querySelector('input').dataset.run,
		cells: Array.from(tr.cells).map((c) => c.innerText.trim()),
		titles: Array.from(tr.querySelectorAll('.total-line'))
		    .map((s) => s.title),
	    }))), (r) => r.length === 2);

	assert.deepEqual(rows.map((r) => r.name), [RUN, OTHER]);
	for (const run of runs) {
		const r = rows.find((x) => x.name === run.name);
		assert.equal(r.cells[1], run.name);
		assert.equal(r.cells[2], 'mse×1 + mae×0.5');
		assert.equal(r.cells[3], 'lr=0.01, batch=32');
		assert.match(r.cells[4], /model=(mlp|cnn)\s+owner=tests/);
		assert.equal(r.cells[5], String(run.last_step));
		// The table rounds; the exact totals are in the titles.
		const want = [];
		for (const which of ['last', 'best']) {
			for (const split of ['train', 'val'])
				want.push(split + ': ' +
				    exact(run.totals[split][which]));
		}
		assert.deepEqual(r.titles, want);
		assert.match(r.cells[6], new RegExp('^train \\S+ @' +
		    run.totals.train.last_step));
		assert.match(r.cells[7], new RegExp('^train \\S+ @' +
		    run.totals.train.best_step));
	}
	assert.deepEqual((await view()).runs, [RUN]);
});

test('one chart per metric, train and validation together, holding ' +
    'the daemon\'s values', async () => {
	const metrics = (await api(base, 'GET', runURL(RUN) +
	    '/metrics')).metrics;
	const list = await waitCharts('seven charts with their lines',
	    (l) => l.length === 7 && l.every((c) => c.lines.length ===
	    (c.kind === 'scalar' ? 1 : 2)));

	assert.deepEqual(list.map((c) => c.metric),
	    ['total', 'mse', 'mae', 'constant', 'grad', 'lr', 'signed']);
	assert.equal(await page.locator('#charts .plot canvas').count(), 7);
	for (const m of metrics) {
		const line = lineOf(chartOf(list, m.name), RUN, m.split);
		const pts = await history(RUN, m.name, m.split);
		assert.equal(pts.length, m.points);
		assert.deepEqual(line.steps, pts.map((p) => p[0]));
		assert.deepEqual(line.values, pts.map((p) => p[1]),
		    m.name + '/' + m.split + ' values');
		assert.deepEqual(line.xs, line.steps);
	}
	const val = lineOf(chartOf(list, 'total'), RUN, 'val');
	assert.equal(val.steps.length, LAST / VAL_EVERY);
	assert.ok(val.dash, 'validation is dashed');
	assert.equal(lineOf(chartOf(list, 'total'), RUN, 'train').dash, null);
});

test('NaN and infinite values are marked where they happened and the ' +
    'line joins their neighbours', async () => {
	const list = await charts();
	const nan = [{ run: RUN, split: 'train', step: NAN_STEP,
	    value: 'NaN' }];

	for (const metric of ['total', 'mse', 'mae']) {
		const c = chartOf(list, metric);
		const l = lineOf(c, RUN, 'train');
		assert.deepEqual(c.nonFinite, nan, metric);
		assert.equal(l.values[l.steps.indexOf(NAN_STEP)], 'NaN');
		assert.equal(l.drawn, LAST, metric + ': all but the NaN');
		assert.equal(l.gaps, 0, metric + ': no break in the line');
	}
	assert.deepEqual(chartOf(list, 'grad').nonFinite, [{ run: RUN,
	    split: 'train', step: INF_STEP, value: 'Infinity' }]);
	assert.deepEqual(chartOf(list, 'lr').nonFinite, []);
	const notes = page.locator('#charts .nonfinite:visible');
	assert.equal(await notes.count(), 4);
	assert.match(await notes.first().innerText(),
	    new RegExp('NaN at step ' + NAN_STEP + ' \\(train\\)'));
	assert.match(await notes.nth(3).innerText(),
	    new RegExp('Infinity at step ' + INF_STEP + ' \\(train\\)'));
});

test('hovering shows step, time and exact value of every line',
    async () => {
	const step = 31;
	const list = await charts();
	const mse = chartOf(list, 'mse');
	const { card, box } = await plotBox('mse');
	const pts = await history(RUN, 'mse', 'train');
	const p = pts.find((q) => q[0] === step);

	await page.mouse.move(xAt(box, mse, step), box.y + box.height / 2);
	const row = card.locator('.hover-table tbody tr').first();
	await waitFor('the hover row at step ' + step, () =>
	    row.locator('td').nth(3).innerText(), (t) => t === String(step));
	const cells = await row.locator('td').allInnerTexts();
	assert.equal(cells[1], RUN);
	assert.equal(cells[2], 'train');
	assert.equal(cells[5], String(p[1]), 'the exact value');
	assert.match(await row.locator('td').nth(4).getAttribute('title'),
	    new RegExp('unix ' + String(p[2]).replace('.', '\\.') + '\\)$'));
	assert.match(cells[4], /^\d\d:\d\d:\d\d\.\d{3}$/);
	// The validation line's nearest point is its own step.
	const val = await card.locator('.hover-table tbody tr').nth(1)
	    .locator('td').allInnerTexts();
	assert.equal(val[3], String(Math.round(step / VAL_EVERY) * VAL_EVERY));
	await page.mouse.move(0, 0);
});

test('a point posted now appears without reload, fetched from the last ' +
    'known step on', async () => {
	const navs = await page.evaluate(() =>
	    performance.getEntriesByType('navigation').length);
	const seen = br.history.length;
	const step = LAST + 1;

	const posted = Date.now();
	await api(base, 'POST', runURL(RUN) + '/batches',
	    batch(step, 'train', 0.05));
	let list = await waitCharts('step ' + step + ' in mse',
	    (l) => lineOf(chartOf(l, 'mse'), RUN, 'train').steps.at(-1) ===
	    step);
	console.log('# the new point was drawn ' + (Date.now() - posted) +
	    ' ms after its post');
	const later = br.history.slice(seen);
	assert.ok(later.length > 0);
	for (const u of later)
		assert.ok(u.searchParams.has('from'), 'a full fetch: ' + u);
	assert.ok(later.some((u) => u.searchParams.get('metric') === 'mse' &&
	    u.searchParams.get('split') === 'train' &&
	    u.searchParams.get('from') === String(LAST)));

	// A second batch to the same step changes its accumulated value.
	await api(base, 'POST', runURL(RUN) + '/batches',
	    batch(step, 'train', 1.5));
	const want = (await history(RUN, 'mse', 'train', '&from=' +
	    step))[0][1];
	list = await waitCharts('the accumulated value at step ' + step,
	    (l) => lineOf(chartOf(l, 'mse'), RUN, 'train').values.at(-1) ===
	    want);
	assert.equal(lineOf(chartOf(list, 'mse'), RUN, 'train').steps.length,
	    LAST + 2);
	assert.equal(await page.evaluate(() =>
	    performance.getEntriesByType('navigation').length), navs);
});

test('the smoothing slider smooths, a constant stays exactly constant ' +
    'and the raw line stays behind', async () => {
	await page.focus('#smooth');
	for (let i = 0; i < 5; i++)
		await page.keyboard.press('ArrowRight');
	await waitFor('smoothing 0.05', view, (v) => v.smooth === 0.05);
	await page.fill('#smooth-num', '0.9');
	await page.press('#smooth-num', 'Tab');
	const list = await waitCharts('smoothed lines', (l) =>
	    chartOf(l, 'mse').lines[0].smoothed !== null &&
	    chartOf(l, 'mse').lines[0].smoothed[50] !==
	    chartOf(l, 'mse').lines[0].values[50]);

	assert.match(page.url(), /[#&]smooth=0\.9(&|$)/);
	assert.equal(await page.inputValue('#smooth'), '0.9');
	for (const c of list) {
		for (const l of c.lines) {
			const nums = l.values.map((v) =>
			    typeof v === 'number' ? v : Number(v));
			const want = smooth(nums, 0.9).map((v) =>
			    Number.isFinite(v) ? v : String(v));
			assert.deepEqual(l.smoothed, want, c.metric);
			assert.ok(l.rawAlpha < 1, 'the raw line is faint');
			assert.equal(l.rawDrawn, l.drawn,
			    'the raw line is drawn too');
		}
	}
	const mse = lineOf(chartOf(list, 'mse'), RUN, 'train');
	assert.equal(mse.smoothed[NAN_STEP], 'NaN', 'NaN passes through');
	assert.ok(mse.smoothed.some((v, i) => typeof v === 'number' &&
	    v !== mse.values[i]));
	const constant = lineOf(chartOf(list, 'constant'), RUN, 'train');
	assert.equal(constant.values.length, LAST + 1);
	for (const v of constant.smoothed)
		assert.equal(v, CONST);

	await page.fill('#smooth-num', '0');
	await page.press('#smooth-num', 'Tab');
	const raw = await waitCharts('raw lines', (l) =>
	    chartOf(l, 'mse').lines[0].smoothed === null);
	assert.equal(lineOf(chartOf(raw, 'mse'), RUN, 'train').rawAlpha, 1);
	assert.doesNotMatch(page.url(), /smooth=/);
});

test('zooming asks the server for the range, down to every point, the ' +
    'same on a reload', async () => {
	const before = await charts();
	const mse = chartOf(before, 'mse');
	const { box } = await plotBox('mse');
	const seen = br.history.length;

	await page.mouse.move(xAt(box, mse, 40.4), box.y + 40);
	await page.mouse.down();
	await page.mouse.move(xAt(box, mse, 52.6), box.y + 80, { steps: 8 });
	await page.mouse.up();
	const v = await waitFor('a zoom in the address bar', view,
	    (x) => x.zoom !== null);
	assert.deepEqual(v.zoom, [40, 53]);
	assert.match(page.url(), /[#&]zoom=40,53(&|$)/);
	const list = await waitCharts('the zoomed range', (l) =>
	    chartOf(l, 'mse').xRange[0] === 40 &&
	    chartOf(l, 'mse').xRange[1] === 53);
	// Every line of every chart asks for the range.
	const asked = await waitFor('the range asked for', () =>
	    br.history.slice(seen).filter((u) =>
	    u.searchParams.get('from') === '40' &&
	    u.searchParams.get('to') === '53').map((u) =>
	    u.searchParams.get('metric') + '/' + u.searchParams.get('split')),
	    (a) => a.length >= 10);
	assert.deepEqual(asked.sort(), ['constant/train', 'grad/train',
	    'lr/train', 'mae/train', 'mae/val', 'mse/train', 'mse/val',
	    'signed/train', 'total/train', 'total/val'].sort());
	const pts = await history(RUN, 'mse', 'train', '&from=40&to=53');
	const line = lineOf(chartOf(list, 'mse'), RUN, 'train');
	assert.deepEqual(line.steps.filter((s) => s >= 40 && s <= 53),
	    pts.map((p) => p[0]));
	assert.ok(chartOf(list, 'mse').yRange[1] <
	    mse.yRange[1], 'the value axis follows the zoom');

	await page.reload();
	const again = await waitCharts('the zoomed charts after a reload',
	    (l) => l.length === 7 && chartOf(l, 'mse').xRange[0] === 40 &&
	    lineOf(chartOf(l, 'mse'), RUN, 'train').steps.length ===
	    line.steps.length);
	assert.deepEqual(lineOf(chartOf(again, 'mse'), RUN, 'train'), line);

	const { box: b2 } = await plotBox('mse');
	await page.mouse.dblclick(b2.x + b2.width / 2, b2.y + b2.height / 2);
	await waitFor('no zoom', view, (x) => x.zoom === null);
	assert.doesNotMatch(page.url(), /zoom=/);
	await waitCharts('the whole range', (l) =>
	    chartOf(l, 'mse').xRange[0] === 0);
});

test('two runs overlay in every chart, one colour per run, and their ' +
    'names survive the address bar', async () => {
	await page.getByRole('checkbox', { name: 'Overlay ' + OTHER,
	    exact: true }).check();
	const v = await waitFor('two runs chosen', view,
	    (x) => x.runs.length === 2);
	assert.deepEqual(v.runs, [RUN, OTHER]);
	assert.ok(page.url().includes('runs=' + encodeURIComponent(RUN) +
	    ',' + encodeURIComponent(OTHER)));
	const list = await waitCharts('both runs in the loss charts', (l) =>
	    ['total', 'mse', 'mae', 'lr'].every((m) =>
	    chartOf(l, m).lines.some((x) => x.run === OTHER)));
	const colours = new Map();
	for (const c of list) {
		for (const l of c.lines) {
			if (!colours.has(l.run))
				colours.set(l.run, l.colour);
			assert.equal(l.colour, colours.get(l.run), c.metric);
		}
	}
	assert.notEqual(colours.get(RUN), colours.get(OTHER));
	const rows = await page.evaluate(() => window.lossmon.rows);
	for (const r of rows)
		assert.equal(r.colour, colours.get(r.name));
	const other = lineOf(chartOf(list, 'total'), OTHER, 'train');
	assert.deepEqual(other.values,
	    (await history(OTHER, 'total', 'train')).map((p) => p[1]));

	// The link alone reproduces the view, the name byte for byte.
	await page.reload();
	await waitCharts('both runs after a reload', (l) =>
	    chartOf(l, 'total').lines.length === 4);
	assert.deepEqual((await view()).runs, [RUN, OTHER]);
	await page.fill('#smooth-num', '0.6');
	await page.press('#smooth-num', 'Tab');
	await waitCharts('smoothed', (l) => l[0].lines[0].smoothed !== null);
	const total = chartOf(await charts(), 'total');
	const { box } = await plotBox('total');
	await page.mouse.move(xAt(box, total, 30), box.y + box.height / 3);
	await shot('dashboard-overlay.png', true);
	await page.mouse.move(0, 0);
});

test('the CSV and JSON downloads hold the drawn rows', async () => {
	const list = await charts();
	const mse = chartOf(list, 'mse');
	const { card } = await plotBox('mse');
	const wait = page.waitForEvent('download');

	await card.getByRole('button', { name: /as CSV$/ }).click();
	const dl = await wait;
	assert.equal(dl.suggestedFilename(), 'lossmon-mse.csv');
	const rows = parseCSV(fs.readFileSync(await dl.path(), 'utf8'));
	assert.deepEqual(rows[0], ['run', 'metric', 'split', 'step', 'time',
	    'time_iso', 'value', 'smoothed']);
	const body = rows.slice(1);
	assert.equal(body.length, mse.lines.reduce((n, l) =>
	    n + l.steps.length, 0));
	for (const l of mse.lines) {
		const pts = await history(l.run, 'mse', l.split);
		const mine = body.filter((r) => r[0] === l.run &&
		    r[2] === l.split);
		assert.equal(mine.length, pts.length, l.run + '/' + l.split);
		mine.forEach((r, i) => {
			assert.equal(r[1], 'mse');
			assert.equal(Number(r[3]), pts[i][0]);
			assert.equal(r[4], String(pts[i][2]));
			assert.equal(r[6], exact(pts[i][1]));
			assert.equal(r[7], exact(l.smoothed[i]));
		});
	}

	const waitJSON = page.waitForEvent('download');
	await card.getByRole('button', { name: /as JSON$/ }).click();
	const doc = JSON.parse(fs.readFileSync(await (await waitJSON).path(),
	    'utf8'));
	assert.equal(doc.metric, 'mse');
	assert.equal(doc.smoothing, 0.6);
	for (const s of doc.series) {
		const pts = await history(s.run, 'mse', s.split);
		assert.deepEqual(s.points.map((p) => p.slice(0, 3)), pts);
	}
	assert.deepEqual(doc.series.map((s) => s.run + '/' + s.split),
	    mse.lines.map((l) => l.run + '/' + l.split));
});

test('x axis by step, relative or wall time; y axis linear or log',
    async () => {
	const runs = (await api(base, 'GET', '/api/v1/runs')).runs;
	const created = new Map(runs.map((r) => [r.name, r.created]));

	await page.selectOption('#x-mode', 'relative');
	let list = await waitCharts('relative time', (l) =>
	    chartOf(l, 'lr').lines[0].xs[0] !== 0);
	for (const l of chartOf(list, 'lr').lines) {
		const pts = await history(l.run, 'lr', 'train');
		assert.deepEqual(l.xs, pts.map((p) =>
		    p[2] - created.get(l.run)));
	}
	assert.match(page.url(), /[#&]x=relative(&|$)/);
	await page.selectOption('#x-mode', 'wall');
	list = await waitCharts('wall time', (l) =>
	    chartOf(l, 'lr').lines[0].xs[0] > 1e9);
	const pts = await history(RUN, 'lr', 'train');
	assert.deepEqual(lineOf(chartOf(list, 'lr'), RUN, 'train').xs,
	    pts.map((p) => p[2]));
	await page.selectOption('#x-mode', 'step');

	await page.selectOption('#y-mode', 'log');
	list = await waitCharts('log axes', (l) => chartOf(l, 'mse').log);
	const signed = chartOf(list, 'signed');
	const sv = lineOf(signed, RUN, 'train').values;
	assert.ok(signed.log);
	assert.ok(signed.yRange[0] > 0);
	assert.equal(lineOf(signed, RUN, 'train').gaps,
	    sv.filter((v) => v <= 0).length);
	assert.ok(lineOf(signed, RUN, 'train').gaps > 0);
	assert.match(await page.locator('#charts .chart').filter({
	    has: page.locator('h3', { hasText: /^signed/ }) })
	    .locator('.note').innerText(), /≤ 0 are not drawn/);
	assert.ok(chartOf(list, 'mse').yRange[0] > 0);
	await page.selectOption('#y-mode', 'linear');
	await waitCharts('linear axes', (l) => !chartOf(l, 'mse').log);
});

test('one metric alone, and a link reproduces the whole view',
    async () => {
	const wide = chartOf(await charts(), 'mse').width;
	const enc = encodeURIComponent;

	await page.selectOption('#metric', 'mse');
	const list = await waitCharts('mse alone', (l) => l.length === 1 &&
	    l[0].metric === 'mse');
	assert.ok(list[0].width > 1.5 * wide, 'shown large');
	assert.match(page.url(), /[#&]metric=mse(&|$)/);
	await page.selectOption('#metric', '');
	await waitCharts('every chart', (l) => l.length === 7);

	const hash = '#runs=' + enc(RUN) + ',' + enc(OTHER) +
	    '&metric=mse&smooth=0.6&y=log&zoom=10,30&contrib=shares';
	const other = await br.context.newPage();
	other.on('pageerror', (e) => br.errors.push(String(e)));
	await other.goto(base + '/' + hash);
	const got = await waitFor('the linked view', () => other.evaluate(
	    () => [window.lossmon.view, window.lossmon.charts,
	    window.lossmon.contributions]), ([v, l, c]) => l.length === 1 &&
	    l[0].lines.length === 4 && c.length === 2);
	assert.deepEqual(got[0], { runs: [RUN, OTHER], metric: 'mse',
	    smooth: 0.6, x: 'step', y: 'log', zoom: [10, 30],
	    contrib: 'shares' });
	const c = got[1][0];
	assert.equal(c.metric, 'mse');
	assert.ok(c.log);
	assert.deepEqual(c.xRange, [10, 30]);
	assert.ok(c.lines.every((l) => l.smoothed !== null));
	assert.ok(other.url().endsWith(hash), other.url());
	await other.close();
});

test('the contributions of the weighted terms add up to the total',
    async () => {
	await page.fill('#smooth-num', '0');
	await page.press('#smooth-num', 'Tab');
	await page.selectOption('#contrib', 'stacked');
	const read = () => page.evaluate(() => window.lossmon.contributions);
	let list = await waitFor('contributions of both runs', read, (l) =>
	    l.length === 2 && l.every((c) => c.steps.length > 10));
	const c = list.find((x) => x.run === RUN);
	const mse = await history(RUN, 'mse', 'train');
	const mae = await history(RUN, 'mae', 'train');
	const total = await history(RUN, 'total', 'train');

	assert.equal(c.split, 'train');
	assert.deepEqual(c.steps, total.map((p) => p[0]));
	assert.deepEqual(c.terms.map((t) => [t.name, t.weight]),
	    [['mse', 1], ['mae', 0.5]]);
	assert.deepEqual(c.terms[0].parts, mse.map((p) =>
	    typeof p[1] === 'number' ? 1 * p[1] : p[1]));
	assert.deepEqual(c.terms[1].parts, mae.map((p) =>
	    typeof p[1] === 'number' ? 0.5 * p[1] : p[1]));
	total.forEach((p, i) => {
		const top = c.terms[1].layer[i];
		if (typeof p[1] === 'number')
			assert.equal(top, p[1], 'the top is the total at ' +
			    p[0]);
		else
			assert.equal(top, null, 'a gap at ' + p[0]);
	});
	assert.deepEqual(c.nonFinite, [{ step: NAN_STEP, value: 'NaN' },
	    { step: NAN_STEP, value: 'NaN' }], 'both terms marked');
	assert.match(page.url(), /[#&]contrib=stacked(&|$)/);
	await page.evaluate(() => window.scrollTo(0, 0));
	await shot('dashboard-contributions.png');

	await page.selectOption('#contrib', 'shares');
	list = await waitFor('shares', read, (l) => l.length === 2 &&
	    l[0].mode === 'shares');
	for (const x of list) {
		for (const v of x.terms.at(-1).layer) {
			if (v !== null)
				assert.ok(Math.abs(v - 100) < 1e-9,
				    'top ' + v);
		}
	}
	await page.selectOption('#contrib', 'off');
	await waitFor('no contributions', read, (l) => l.length === 0);
});

test('opened without runs it shows the latest; Clear empties the view',
    async () => {
	await page.goto(base + '/');
	await page.reload();
	const v = await waitFor('the run updated last', view,
	    (x) => x.runs.length === 1);
	assert.deepEqual(v.runs, [RUN]);
	await page.click('#clear-chosen');
	await waitFor('no run', view, (x) => x.runs.length === 0);
	await page.locator('#placeholder', { hasText: 'Choose runs' })
	    .waitFor();
	const rounds = await page.evaluate(() => window.lossmon.refreshes);
	await page.waitForFunction((n) => window.lossmon.refreshes > n + 2,
	    rounds);
	assert.deepEqual((await view()).runs, [], 'still empty');
	assert.equal(await page.locator('#charts .chart').count(), 0);
});

test('the keyboard chooses runs, moves the cursor and zooms',
    async () => {
	await goView('#runs=' + encodeURIComponent(RUN), 'one run', (l) =>
	    l.length === 7 && l[0].lines.length === 2);
	await page.focus('#filter');
	await page.keyboard.type('β');
	assert.deepEqual((await page.evaluate(() =>
	    window.lossmon.rows)).map((r) => r.name), [OTHER]);
	await page.keyboard.press('ArrowDown');
	await page.keyboard.press('Space');
	await waitFor('the other run added', view, (v) =>
	    v.runs.length === 2 && v.runs[1] === OTHER);
	await page.keyboard.press('Tab');
	assert.equal(await page.evaluate(() => document.activeElement
	    .textContent), OTHER);
	await page.keyboard.press('Enter');
	await waitFor('the other run alone', view, (v) =>
	    v.runs.length === 1 && v.runs[0] === OTHER);
	await page.fill('#filter', '');
	await waitCharts('its charts', (l) => l.length === 4 &&
	    l[0].lines[0].run === OTHER);

	const plot = page.locator('#charts .plot').first();
	const stepCell = page.locator('#charts .chart').first()
	    .locator('.hover-table tbody tr').first().locator('td').nth(3);
	await plot.focus();
	assert.equal(await stepCell.innerText(), '60');
	await page.keyboard.press('ArrowLeft');
	await page.keyboard.press('Shift+ArrowLeft');
	await waitFor('the cursor moved', () => stepCell.innerText(),
	    (t) => Number(t) < 60 && Number(t) > 40);
	await page.keyboard.press('+');
	const z = await waitFor('a keyboard zoom', view, (v) => v.zoom);
	assert.ok(z.zoom[1] - z.zoom[0] <= 31, 'zoomed to half: ' + z.zoom);
	await page.keyboard.press('0');
	await waitFor('zoom reset', view, (v) => v.zoom === null);
});

test('a narrow window does not overflow sideways', async () => {
	await page.setViewportSize({ width: 380, height: 800 });
	await page.waitForFunction(() => {
		const c = document.querySelector('#charts .plot');
		const u = c && c.querySelector('.uplot');
		return u && u.offsetWidth <= c.clientWidth + 1;
	}, null, { timeout: DEADLINE });
	const over = await page.evaluate(() =>
	    document.documentElement.scrollWidth -
	    document.documentElement.clientWidth);
	assert.ok(over <= 0, 'page is ' + over + 'px wider than the window');
	await shot('dashboard-narrow.png');
	await page.setViewportSize({ width: 1280, height: 900 });
});

test('the dark theme redraws the charts in its palette', async () => {
	const light = await page.evaluate(() =>
	    getComputedStyle(document.body).backgroundColor);

	await goView('#runs=' + encodeURIComponent(RUN) + ',' +
	    encodeURIComponent(OTHER) + '&smooth=0.6', 'both runs', (l) =>
	    l.length === 7 && chartOf(l, 'total').lines.length === 4);
	await page.selectOption('#theme', 'dark');
	await page.waitForFunction((bg) =>
	    getComputedStyle(document.body).backgroundColor !== bg, light,
	    { timeout: DEADLINE });
	const list = await waitCharts('charts in the dark palette', (l) =>
	    l.every((c) => c.lines[0].colour === '#56B4E9'));
	assert.notEqual(chartOf(list, 'total').lines[2].colour, '#56B4E9');
	await shot('dashboard-dark.png');
	await page.selectOption('#theme', 'auto');
});

test('no errors in the page console (CSP included)', () => {
	assert.deepEqual(br.errors, []);
});
