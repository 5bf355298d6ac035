// The dashboard with many runs and with a long run, in a real browser
// against a real lossmond.
//
// Many runs: 300 runs of 20 metrics each (mse, mae and huber terms and
// their total on train and validation, and 16 scalars), posted through
// the API with many requests in parallel over keep-alive; the daemon
// runs with "synchronous": "off" for that, which changes durability, not
// behaviour. The table must list, filter and sort them, and overlaying a
// tag's 30 runs must fetch only the charts on or near the screen.
//
// A long run: a scalar "loss" of a million steps with one spike, one NaN
// and a validation series of three points. Posting a million steps over
// HTTP (one request per step) takes minutes, so the daemon first makes
// the run and its two metrics through the API, then stops; Python's
// sqlite3 module (the standard library, schema/001-initial.sql's tables)
// adds the points to that file as lossmond would store scalars (value,
// NULL for NaN; stats = sum and count as native doubles; time), and the
// daemon starts again on it. The dashboard must show the spike, the NaN
// and the three validation points with no more points than the chart is
// wide, ask the server again when zoomed, down to every point, and draw
// the same points on a reload.
//
// Timings are printed as comments, never asserted.
//
// Environment and skipping: see tests/dashboard_lib.mjs; PYTHON names
// the Python to run (python3 when unset).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
	requireBrowser, workspace, startDaemon, api, runURL, pool,
	openBrowser, waitFor, chartOf, lineOf,
} from './dashboard_lib.mjs';

const pw = requireBrowser();

const RUNS = 300;
const STEPS = 8;
const SCALARS = 16;
const SWEEPS = 10;
const LONG = 'long-run';
const N = 1000000;
const SPIKE_STEP = 654321;
const SPIKE = 40;
const NAN_STEP = 333333;
const VAL_STEPS = [250000, 500000, 999999];
const TIME_STEP = 0.001;

const ws = workspace('lossmon-scale-', 170000);
let daemon = null;
let base = null;
let br = null;
let page = null;

function runName(i) {
	return 'sweep-' + String(i).padStart(3, '0');
}

function sweepOf(i) {
	return 'lr-' + (i % SWEEPS);
}

function batch(i, step, split) {
	const targets = [0.5, -1, 2, 0.25];
	const err = (1 + (i % 17) / 10) * Math.exp(-step / 4) +
	    (split === 'val' ? 0.2 : 0.02) + 0.01 * (i % 7);
	const predictions = targets.map((t, k) =>
	    t + (k % 2 ? -err : err) * (1 + k / 4));

	return { step, split, predictions, targets };
}

// Each run's requests in order; runs in parallel.
async function postMany() {
	const jobs = [];

	for (let i = 0; i < RUNS; i++) {
		jobs.push(async () => {
			const url = runURL(runName(i));
			await api(base, 'PUT', url, {
				losses: [
					{ type: 'mse', weight: 1 },
					{ type: 'mae', weight: 0.5 },
					{ type: 'huber', weight: 0.25,
					    delta: 0.5 },
				],
				params: { lr: 0.001 * (1 + i % SWEEPS) },
				tags: { sweep: sweepOf(i), half: i < RUNS / 2 ?
				    'first' : 'second' },
			});
			for (let step = 0; step < STEPS; step++) {
				const values = {};
				for (let k = 0; k < SCALARS; k++) {
					const name = 's' +
					    String(k).padStart(2, '0');
					values[name] = Math.sin(step + k + i);
				}
				await api(base, 'POST', url + '/batches',
				    batch(i, step, 'train'));
				await api(base, 'POST', url + '/scalars',
				    { step, values });
			}
			await api(base, 'POST', url + '/batches',
			    batch(i, STEPS - 1, 'val'));
		});
	}
	await pool(jobs, 16);
}

const FILL = `
import math, sqlite3, struct, sys

db, run, n, spike_step, spike, nan_step, t0, dt = sys.argv[1:9]
n, spike_step, nan_step = int(n), int(spike_step), int(nan_step)
spike, t0, dt = float(spike), float(t0), float(dt)
val_steps = [int(s) for s in sys.argv[9:]]
c = sqlite3.connect(db)
rid = c.execute("SELECT id FROM runs WHERE name = ?", (run,)).fetchone()[0]

def metric(split):
    return c.execute("SELECT id FROM metrics WHERE run_id = ? AND"
        " name = 'loss' AND split = ?", (rid, split)).fetchone()[0]

def value(step):
    if step == spike_step:
        return spike
    if step == nan_step:
        return math.nan
    return 2.0 / (1 + step / 20000.0) + 0.05 * math.sin(step / 37.0)

def rows(mid, steps):
    for s in steps:
        v = value(s)
        yield (mid, s, None if math.isnan(v) else v,
               struct.pack("=2d", v, 1.0), t0 + s * dt)

train, val = metric("train"), metric("val")
c.executemany("INSERT INTO points (metric_id, step, value, stats, time)"
    " VALUES (?, ?, ?, ?, ?)", rows(train, range(1, n)))
c.executemany("INSERT INTO points (metric_id, step, value, stats, time)"
    " VALUES (?, ?, ?, ?, ?)", rows(val, val_steps[1:]))
c.execute("UPDATE runs SET last_step = ?, last_time = ? WHERE id = ?",
    (n - 1, t0 + (n - 1) * dt, rid))
c.commit()
`;

// The long run: made through the API, filled by Python, served again.
async function makeLong(db) {
	const d = await startDaemon(ws, db);
	const url = runURL(LONG);
	const created = (await api(d.base, 'PUT', url, {
		tags: { size: 'million' },
	})).created;
	const t0 = created + 1;

	await api(d.base, 'POST', url + '/scalars', { step: 0,
	    values: { loss: 2 } });
	await api(d.base, 'POST', url + '/scalars', { step: VAL_STEPS[0],
	    split: 'val', values: { loss: 0.5 } });
	await d.stop();
	const started = Date.now();
	const r = spawnSync(process.env.PYTHON || 'python3', ['-c', FILL,
	    db, LONG, String(N), String(SPIKE_STEP), String(SPIKE),
	    String(NAN_STEP), String(t0), String(TIME_STEP),
	    ...VAL_STEPS.map(String)], { encoding: 'utf8' });
	assert.equal(r.status, 0, 'python: ' + r.stderr + (r.error || ''));
	console.log('# a million points written by python in ' +
	    (Date.now() - started) + ' ms');
}

function charts() {
	return page.evaluate(() => window.lossmon.charts);
}

function view() {
	return page.evaluate(() => window.lossmon.view);
}

function rows() {
	return page.evaluate(() => window.lossmon.rows);
}

async function shot(name) {
	const file = path.join(ws.shots, name);

	await page.evaluate(() => document.activeElement.blur());
	await page.mouse.move(0, 0);
	await page.screenshot({ path: file });
	console.log('# screenshot: ' + file);
}

function since(t) {
	return (Date.now() - t) + ' ms';
}

before(async () => {
	const db = path.join(ws.tmp, 'scale.db');
	const conf = path.join(ws.tmp, 'lossmond.conf');
	let t = Date.now();

	await makeLong(db);
	fs.writeFileSync(conf, '{"synchronous": "off"}\n');
	daemon = await startDaemon(ws, db, ['--config', conf]);
	base = daemon.base;
	t = Date.now();
	await postMany();
	console.log('# ' + RUNS + ' runs of 20 metrics posted (' +
	    RUNS * (2 * STEPS + 2) + ' requests) in ' + since(t));
	br = await openBrowser(pw, ws, base);
	page = br.page;
});

after(async () => {
	if (br)
		await br.context.close().catch(() => {});
	if (daemon)
		daemon.kill();
});

test('300 runs: the table lists, filters and sorts them', async () => {
	const t = Date.now();

	await page.goto(base + '/#runs=' + runName(0));
	await waitFor('301 rows', rows, (r) => r.length === RUNS + 1);
	console.log('# table of ' + (RUNS + 1) + ' runs shown in ' + since(t));
	await page.fill('#filter', 'sweep=' + sweepOf(3));
	let shown = await rows();
	assert.deepEqual(shown.map((r) => r.name), Array.from({ length:
	    RUNS / SWEEPS }, (x, k) => runName(3 + k * SWEEPS)));

	const all = (await api(base, 'GET', '/api/v1/runs')).runs;
	const best = new Map(all.map((r) => [r.name,
	    r.totals.train ? r.totals.train.best : null]));
	await page.click('th[data-sort="best"] button');
	shown = await rows();
	const sorted = shown.map((r) => r.name).slice().sort((a, b) =>
	    best.get(a) - best.get(b) || (a < b ? -1 : 1));
	assert.deepEqual(shown.map((r) => r.name), sorted);
	assert.ok(best.get(sorted[0]) < best.get(sorted.at(-1)));
});

test('overlaying a tag\'s 30 runs fetches the charts on screen first',
    async () => {
	const seen = br.history.length;
	const t = Date.now();

	await page.click('#choose-shown');
	const v = await waitFor('31 runs chosen', view,
	    (x) => x.runs.length === RUNS / SWEEPS + 1);
	assert.equal(v.runs[0], runName(0));
	const full = (l) => l.filter((c) => c.lines.length >= v.runs.length);
	const first = full(await waitFor('the first charts drawn', charts,
	    (l) => full(l).length >= 2));
	console.log('# first charts of ' + v.runs.length + ' runs in ' +
	    since(t));
	const cards = await page.locator('#charts .chart').count();
	assert.equal(cards, 20);
	// Charts far below the window wait: fewer requests than lines.
	const lines = 4 * 2 * v.runs.length + SCALARS * v.runs.length;
	const asked = br.history.length - seen;
	assert.equal(first[0].lines.length, 2 * v.runs.length);
	assert.ok(first.length < cards, first.length + ' charts drawn');
	assert.ok(asked < lines, asked + ' requests for ' + lines + ' lines');
	console.log('# ' + asked + ' history requests before scrolling, of ' +
	    lines + ' lines');

	// Scrolled through as a person would, each chart comes in view and
	// stays there until it is drawn.  A chart scrolled past before its
	// lines came waits, by design, until it is near the screen again;
	// under valgrind the daemon is slow enough for blind scrolling to
	// leave charts behind.
	const list = await waitFor('all 20 charts', async () => {
		const l = await charts();
		const lacking = l.find((c) => c.lines.length < v.runs.length);
		if (lacking)
			await page.locator('#charts .chart[data-metric="' +
			    lacking.metric + '"]:not(.contrib)')
			    .scrollIntoViewIfNeeded();
		return l;
	}, (l) => l.length === 20 && l.every((c) => c.lines.length >=
	    v.runs.length));
	console.log('# all 20 charts in ' + since(t));
	const colours = new Set(list[0].lines.map((l) => l.colour));
	assert.equal(colours.size, 8, 'the palette, repeating');
	const s00 = chartOf(list, 's00');
	const pts = (await api(base, 'GET', runURL(runName(13)) +
	    '/history?metric=s00')).points;
	assert.deepEqual(lineOf(s00, runName(13), 'train').values,
	    pts.map((p) => p[1]));
	await page.evaluate(() => window.scrollTo(0, 0));
	await shot('dashboard-many-runs.png');
	await page.fill('#filter', '');
});

test('a million steps: the spike, the NaN and three validation points ' +
    'in no more points than the chart is wide', async () => {
	const seen = br.history.length;
	const t = Date.now();

	await page.goto(base + '/#runs=' + LONG);
	const list = await waitFor('the long run', charts, (l) =>
	    l.length === 1 && l[0].lines.length === 2);
	console.log('# a million-step chart drawn in ' + since(t));
	const c = list[0];
	const train = lineOf(c, LONG, 'train');
	const val = lineOf(c, LONG, 'val');
	const asked = br.history.slice(seen);

	assert.equal(c.metric, 'loss');
	for (const u of asked)
		assert.ok(Number(u.searchParams.get('max_points')) <= c.width,
		    'asked for more points than pixels: ' + u);
	assert.ok(train.steps.length <= c.width, train.steps.length + ' > ' +
	    c.width);
	assert.ok(train.steps.length > c.width / 2);
	assert.equal(train.steps[0], 0);
	assert.equal(train.steps.at(-1), N - 1);
	assert.equal(Math.max(...train.values.filter((x) =>
	    typeof x === 'number')), SPIKE);
	assert.equal(train.values[train.steps.indexOf(SPIKE_STEP)], SPIKE);
	assert.deepEqual(c.nonFinite, [{ run: LONG, split: 'train',
	    step: NAN_STEP, value: 'NaN' }]);
	assert.deepEqual(val.steps, VAL_STEPS);
	assert.equal(val.drawn, 3);
	assert.ok(c.yRange[1] >= SPIKE, 'the spike is inside the axis');
	await page.fill('#filter', 'million');
	await shot('dashboard-million.png');

	await page.reload();
	const again = await waitFor('the long run again', charts, (l) =>
	    l.length === 1 && l[0].lines.length === 2);
	assert.deepEqual(again[0].lines, list[0].lines, 'same points');
});

test('zooming into a million steps asks the server again, down to ' +
    'every point, the same on a reload', async () => {
	const c = (await charts())[0];
	const card = page.locator('#charts .chart').first();
	const box = await card.locator('.u-over').boundingBox();
	const at = (s) => box.x + box.width * (s - c.xRange[0]) /
	    (c.xRange[1] - c.xRange[0]);
	let seen = br.history.length;

	await page.mouse.move(at(SPIKE_STEP - 30000), box.y + 30);
	await page.mouse.down();
	await page.mouse.move(at(SPIKE_STEP + 30000), box.y + 60,
	    { steps: 6 });
	await page.mouse.up();
	const v = await waitFor('a zoom', view, (x) => x.zoom !== null);
	const [lo, hi] = v.zoom;
	assert.ok(lo < SPIKE_STEP && hi > SPIKE_STEP);
	const asked = await waitFor('the range asked for', () =>
	    br.history.slice(seen), (a) => a.some((u) =>
	    u.searchParams.get('split') === 'train' &&
	    u.searchParams.get('from') === String(lo)));
	const q = asked.find((u) => u.searchParams.get('from') ===
	    String(lo));
	assert.equal(q.searchParams.get('to'), String(hi));
	let list = await waitFor('the zoomed points', charts, (l) =>
	    lineOf(l[0], LONG, 'train').steps.filter((s) => s >= lo &&
	    s <= hi).length > l[0].width / 2);
	let train = lineOf(list[0], LONG, 'train');
	const inside = train.steps.filter((s) => s >= lo && s <= hi);
	assert.ok(inside.length <= list[0].width);
	assert.ok(inside.includes(SPIKE_STEP));

	// A link to a narrow range: every point of it, as the daemon has
	// them, drawn the same after a reload.
	const from = SPIKE_STEP - 250;
	const to = SPIKE_STEP + 250;
	seen = br.history.length;
	await page.goto(base + '/#runs=' + LONG + '&zoom=' + from + ',' +
	    to);
	list = await waitFor('every point of the range', charts, (l) =>
	    l.length === 1 && lineOf(l[0], LONG, 'train').steps
	    .filter((s) => s >= from && s <= to).length === to - from + 1);
	train = lineOf(list[0], LONG, 'train');
	const pts = (await api(base, 'GET', runURL(LONG) +
	    '/history?metric=loss&from=' + from + '&to=' + to)).points;
	const k = train.steps.indexOf(from);
	assert.deepEqual(train.steps.slice(k, k + pts.length),
	    pts.map((p) => p[0]));
	assert.deepEqual(train.values.slice(k, k + pts.length),
	    pts.map((p) => p[1]));
	assert.deepEqual(list[0].xRange, [from, to]);
	await shot('dashboard-million-zoom.png');
	await page.reload();
	const again = await waitFor('the same after a reload', charts, (l) =>
	    l.length === 1 && lineOf(l[0], LONG, 'train').steps
	    .filter((s) => s >= from && s <= to).length === to - from + 1);
	assert.deepEqual(again[0].lines, list[0].lines);
});

test('no errors in the page console', () => {
	assert.deepEqual(br.errors, []);
});
