// The dashboard in a real browser against a real lossmond.
//
// Starts the daemon on an ephemeral loopback port with a fresh SQLite
// file, posts a run (mse + mae terms, train steps 0..20 with a NaN at
// step 7, validation at steps 10 and 20, an lr scalar), opens the page in
// headless Chromium driven by playwright-core and checks what a person
// would: the run list, one chart per metric holding the posted points, the
// NaN marked, a point posted later appearing without a reload (fetched
// from the last known step on), the filter and keyboard use, a narrow
// window. It writes screenshots to a temporary folder and prints where.
//
// Environment (set by make check): LOSSMOND, TOP_SRCDIR, NODE_PATH.
// Exit 77 (skip) when playwright-core or /usr/bin/chromium is missing,
// unless LOSSMON_REQUIRE_BROWSER=1, which makes that a failure.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOP = process.env.TOP_SRCDIR || path.dirname(HERE);
const LOSSMOND = process.env.LOSSMOND || path.join(TOP, 'src', 'lossmond');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
	'--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync'];
const LISTENING = /listening on (http:\/\/\S+?)\/?\s/;
const DEADLINE = 30000;		// generous: for things to appear
const RUN = 'demo-run';
const OTHER = 'other-run';
const LAST_TRAIN = 20;
const NAN_STEP = 7;
const VAL_STEPS = [10, 20];

// ---- skip when the browser tools are missing ----

function skipOrFail(why) {
	if (process.env.LOSSMON_REQUIRE_BROWSER === '1') {
		console.error('not ok - ' + why +
		    ' (LOSSMON_REQUIRE_BROWSER=1)');
		process.exit(1);
	}
	console.log('# SKIP ' + why);
	process.exit(77);
}

// Resolution goes through NODE_PATH and the source tree, so the test
// works whatever the current directory is.
function loadPlaywright() {
	const bases = [import.meta.url,
	    path.join(TOP, 'node_modules', 'noop.js')];

	for (const base of bases) {
		try {
			return createRequire(base)('playwright-core');
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	return null;
}

const playwright = loadPlaywright();
if (!playwright)
	skipOrFail('playwright-core is not installed (npm ci)');
try {
	fs.accessSync(CHROMIUM, fs.constants.X_OK);
} catch (e) {
	skipOrFail(CHROMIUM + ' is missing (apt-get install chromium)');
}

// ---- the daemon and the browser, cleaned up on every path ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lossmon-dash-'));
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'lossmon-shots-'));
let daemon = null;
let daemonLog = '';
let context = null;
let page = null;
let base = null;

function killDaemon() {
	if (daemon && daemon.exitCode === null && daemon.signalCode === null)
		daemon.kill('SIGKILL');
}

function removeTmp() {
	fs.rmSync(tmp, { recursive: true, force: true });
}

process.on('exit', () => {
	killDaemon();
	removeTmp();
});
// Nothing here should take minutes; a hang must not stall make check.
setTimeout(() => {
	console.error('not ok - the dashboard test hung; giving up');
	console.error(daemonLog.slice(-3000).replace(/^/gm, '# '));
	process.exit(1);
}, 300000).unref();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.on(sig, () => {
		console.error('# interrupted by ' + sig);
		process.exit(1);	// the exit handler cleans up
	});
}

// Resolves to the base URL once the daemon logs where it listens.
function startDaemon() {
	const args = ['--listen', '127.0.0.1:0', '--db',
	    path.join(tmp, 't.db'), '--web', path.join(TOP, 'web')];

	daemon = spawn(LOSSMOND, args, {
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
		    'lossmond did not say where it listens:\n' + daemonLog)),
		    DEADLINE);

		daemon.on('error', (e) => {
			clearTimeout(timer);
			reject(new Error('cannot start ' + LOSSMOND + ': ' +
			    e.message));
		});
		daemon.on('exit', (code, sig) => {
			clearTimeout(timer);
			reject(new Error('lossmond exited (' + (sig || code) +
			    '):\n' + daemonLog));
		});
		daemon.stderr.setEncoding('utf8');
		daemon.stderr.on('data', (chunk) => {
			daemonLog += chunk;
			if (daemonLog.length > 100000)
				daemonLog = daemonLog.slice(-50000);
			const m = LISTENING.exec(daemonLog);
			if (m) {
				clearTimeout(timer);
				resolve(m[1]);
			}
		});
	});
}

async function api(method, urlPath, body) {
	const res = await fetch(base + urlPath, {
		method,
		headers: body ? { 'Content-Type': 'application/json' } : {},
		body: body ? JSON.stringify(body) : undefined,
		signal: AbortSignal.timeout(DEADLINE),
	});
	const text = await res.text();
	let json = null;

	try {
		json = JSON.parse(text);
	} catch (e) {
		json = null;
	}
	if (!res.ok)
		throw new Error(method + ' ' + urlPath + ': ' + res.status +
		    ' ' + text);
	return json;
}

// ---- the data: a loss that falls with the step ----

function batch(step, split, spread) {
	const targets = [0.5, -1, 2, 0.25];
	const err = 2 * Math.exp(-step / 6) + spread;
	const predictions = targets.map((t, i) =>
	    t + (i % 2 ? -err : err) * (1 + i / 4));

	return { step, split, predictions, targets };
}

async function postData() {
	await api('PUT', '/api/v1/runs/' + RUN, {
		losses: [
			{ type: 'mse', name: 'mse', weight: 1 },
			{ type: 'mae', name: 'mae', weight: 0.5 },
		],
		tags: { model: 'mlp', owner: 'tests' },
	});
	for (let step = 0; step <= LAST_TRAIN; step++) {
		const b = batch(step, 'train', 0.05);

		if (step === NAN_STEP)
			b.predictions[1] = 'NaN';
		await api('POST', '/api/v1/runs/' + RUN + '/batches', b);
		await api('POST', '/api/v1/runs/' + RUN + '/scalars', {
			step, split: 'train',
			values: { lr: 0.01 * Math.pow(0.9, step) },
		});
	}
	for (const step of VAL_STEPS)
		await api('POST', '/api/v1/runs/' + RUN + '/batches',
		    batch(step, 'val', 0.2));
	for (let step = 0; step < 3; step++)
		await api('POST', '/api/v1/runs/' + OTHER + '/batches',
		    batch(step, 'train', 0.1));
}

// ---- page helpers ----

const consoleErrors = [];
const historyRequests = [];

function charts() {
	return page.evaluate(() => window.lossmon.charts);
}

function chartOf(list, metric) {
	const c = list.find((x) => x.metric === metric);

	assert.ok(c, 'no chart for ' + metric + ' among ' +
	    list.map((x) => x.metric).join(', '));
	return c;
}

function seriesOf(chart, split) {
	const s = chart.series.find((x) => x.split === split);

	assert.ok(s, 'chart ' + chart.metric + ' has no ' + split + ' line');
	return s;
}

// Waits, with a generous deadline, for fn(charts) to hold.
async function waitCharts(what, fn) {
	const end = Date.now() + DEADLINE;
	let last = null;

	for (;;) {
		last = await charts();
		try {
			if (fn(last))
				return last;
		} catch (e) {
			// not there yet
		}
		if (Date.now() > end) {
			const seen = JSON.stringify(last).slice(0, 2000);
			assert.fail('timed out waiting for ' + what +
			    '; charts: ' + seen);
		}
		await new Promise((r) => setTimeout(r, 200));
	}
}

// A strict Content-Security-Policy, added to the page when the daemon
// sends none, so a violation (inline script or style) shows as a console
// error either way.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; " +
    "form-action 'none'; frame-ancestors 'none'";

before(async () => {
	base = await startDaemon();
	await postData();
	context = await playwright.chromium.launchPersistentContext(
	    path.join(tmp, 'profile'), {
		executablePath: CHROMIUM,
		args: CHROMIUM_ARGS,
		headless: true,
		viewport: { width: 1280, height: 900 },
	});
	context.setDefaultTimeout(DEADLINE);
	page = context.pages()[0] || await context.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error')
			consoleErrors.push(m.text());
	});
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	page.on('request', (r) => {
		if (r.url().includes('/history?'))
			historyRequests.push(new URL(r.url()));
	});
	await page.route(base + '/', async (route) => {
		const res = await route.fetch();
		const headers = res.headers();

		if (!headers['content-security-policy'])
			headers['content-security-policy'] = CSP;
		route.fulfill({ response: res, headers });
	});
	await page.goto(base + '/#run=' + RUN);
});

after(async () => {
	if (context)
		await context.close().catch(() => {});
	killDaemon();
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

test('the run list shows the runs with terms, tags and last step',
    async () => {
	const item = page.locator('#run-list a', { hasText: RUN });

	await item.waitFor({ timeout: DEADLINE });
	const text = await item.innerText();
	assert.match(text, /mse×1 \+ mae×0\.5/);
	assert.match(text, /model=mlp/);
	assert.match(text, new RegExp('step ' + LAST_TRAIN + '\\b'));
	assert.equal(await item.getAttribute('aria-current'), 'page');
	await page.locator('#run-list a', { hasText: OTHER })
	    .waitFor({ timeout: DEADLINE });
});

test('one chart per metric, holding the posted points', async () => {
	const metrics = (await api('GET', '/api/v1/runs/' + RUN +
	    '/metrics')).metrics;
	const names = [...new Set(metrics.map((m) => m.name))].sort();

	assert.deepEqual(names, ['lr', 'mae', 'mse', 'total']);
	const list = await waitCharts('four charts with their lines',
	    (l) => l.length === 4 && l.every((c) => c.series.length ===
	    (c.metric === 'lr' ? 1 : 2)));
	assert.deepEqual(list.map((c) => c.metric),
	    ['total', 'mse', 'mae', 'lr']);
	for (const m of metrics) {
		const s = seriesOf(chartOf(list, m.name), m.split);
		const want = m.split === 'train' ? LAST_TRAIN + 1 :
		    VAL_STEPS.length;
		assert.equal(m.points, want, m.name + '/' + m.split);
		assert.equal(s.points, want, m.name + '/' + m.split +
		    ' points in the uPlot data');
	}
	assert.equal(await page.locator('#charts .plot canvas').count(), 4);

	// The drawn values are the daemon's history, finite ones exactly.
	const hist = await api('GET', '/api/v1/runs/' + RUN +
	    '/history?metric=mse&split=train');
	const mse = chartOf(list, 'mse');
	const train = seriesOf(mse, 'train');
	for (const [step, value] of hist.points) {
		const v = train.values[mse.steps.indexOf(step)];
		assert.equal(v, typeof value === 'number' ? value : null,
		    'mse at step ' + step);
	}
	assert.deepEqual(mse.steps, [...Array(LAST_TRAIN + 1).keys()]);
});

test('the NaN is a gap and is marked', async () => {
	const list = await charts();

	for (const metric of ['total', 'mse', 'mae']) {
		const c = chartOf(list, metric);
		const s = seriesOf(c, 'train');
		assert.equal(s.values[c.steps.indexOf(NAN_STEP)], null,
		    metric + ' at the NaN step is a gap');
		assert.deepEqual(c.nonFinite,
		    [{ split: 'train', step: NAN_STEP, value: 'NaN' }]);
	}
	assert.deepEqual(chartOf(list, 'lr').nonFinite, []);
	const notes = page.locator('#charts .nonfinite:visible');
	assert.equal(await notes.count(), 3);
	assert.match(await notes.first().innerText(),
	    new RegExp('NaN at step ' + NAN_STEP + ' \\(train\\)'));
	const shot = path.join(shots, 'dashboard.png');
	await page.screenshot({ path: shot, fullPage: true });
	console.log('# screenshot: ' + shot);
});

test('a point posted now appears without reload, fetched from the ' +
    'last known step on', async () => {
	const reloads = await page.evaluate(() =>
	    performance.getEntriesByType('navigation').length);
	const seen = historyRequests.length;
	const step = LAST_TRAIN + 1;

	await api('POST', '/api/v1/runs/' + RUN + '/batches',
	    batch(step, 'train', 0.05));
	let list = await waitCharts('step ' + step + ' in mse',
	    (l) => seriesOf(chartOf(l, 'mse'), 'train').points ===
	    LAST_TRAIN + 2);
	assert.equal(chartOf(list, 'mse').steps.at(-1), step);

	const later = historyRequests.slice(seen);
	assert.ok(later.length > 0, 'no history request after the post');
	for (const u of later) {
		const p = u.searchParams;
		assert.ok(p.has('from'), 'a full re-fetch: ' + u);
		const mp = Number(p.get('max_points'));
		assert.ok(mp >= 50 && mp <= 1280, 'max_points ' + mp);
	}
	assert.ok(later.some((u) => u.searchParams.get('metric') === 'mse' &&
	    u.searchParams.get('split') === 'train' &&
	    u.searchParams.get('from') === String(LAST_TRAIN)),
	    'mse/train was not fetched from step ' + LAST_TRAIN);

	// A second batch to the same step changes its accumulated value;
	// the chart follows to the daemon's value.
	await api('POST', '/api/v1/runs/' + RUN + '/batches',
	    batch(step, 'train', 1.5));
	const hist = await api('GET', '/api/v1/runs/' + RUN +
	    '/history?metric=mse&split=train&from=' + step);
	const want = hist.points[0][1];
	list = await waitCharts('the accumulated value at step ' + step,
	    (l) => seriesOf(chartOf(l, 'mse'), 'train').values.at(-1) ===
	    want);
	assert.equal(seriesOf(chartOf(list, 'mse'), 'train').points,
	    LAST_TRAIN + 2);
	assert.equal(await page.evaluate(() =>
	    performance.getEntriesByType('navigation').length), reloads);
	assert.equal(await page.evaluate(() => window.lossmon.run), RUN);
});

test('hovering a chart shows the step and its values in the legend',
    async () => {
	const step = 3;
	const chart = page.locator('#charts .chart').nth(1);
	const over = chart.locator('.u-over');
	const list = await charts();
	const steps = chartOf(list, 'mse').steps;
	const box = await over.boundingBox();
	const hist = await api('GET', '/api/v1/runs/' + RUN +
	    '/history?metric=mse&split=train&from=' + step + '&to=' + step);
	const want = hist.points[0][1];

	assert.match(await chart.locator('h3').innerText(), /^mse/);
	await page.mouse.move(box.x + box.width * (step - steps[0]) /
	    (steps.at(-1) - steps[0]), box.y + box.height / 2);
	const cells = chart.locator('.u-legend .u-series .u-value');
	await page.waitForFunction((n) => document.querySelectorAll(
	    '#charts .chart')[1].querySelector('.u-legend .u-value')
	    .textContent === String(n), step, { timeout: DEADLINE });
	const shown = Number(await cells.nth(1).innerText());
	assert.ok(Math.abs(shown - want) <= 1e-4 * Math.abs(want),
	    'legend shows ' + shown + ', the daemon has ' + want);
	await page.mouse.move(0, 0);
});

test('the filter and the keyboard choose runs', async () => {
	const mine = page.locator('#run-list li', { hasText: RUN });
	const other = page.locator('#run-list li', { hasText: OTHER });

	await page.fill('#filter', 'other');
	assert.equal(await mine.isHidden(), true);
	assert.equal(await other.isVisible(), true);
	await page.focus('#filter');
	await page.keyboard.press('ArrowDown');
	assert.equal(await page.evaluate(() =>
	    document.activeElement.textContent.includes('other-run')), true);
	await page.keyboard.press('Enter');
	await page.waitForFunction((n) => window.lossmon.run === n, OTHER,
	    { timeout: DEADLINE });
	assert.match(page.url(), new RegExp('#run=' + OTHER + '$'));
	await waitCharts('the other run\'s charts', (l) =>
	    l.map((c) => c.metric).join() === 'total,mse' &&
	    l[1].series[0].points === 3);

	await page.fill('#filter', '');
	assert.equal(await mine.isVisible(), true);
	await page.goto(base + '/#run=' + RUN);
	await waitCharts('the first run again', (l) => l.length === 4);
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
	const shot = path.join(shots, 'dashboard-narrow.png');
	await page.screenshot({ path: shot, fullPage: true });
	console.log('# screenshot: ' + shot);
	await page.setViewportSize({ width: 1280, height: 900 });
});

test('the dark colour scheme redraws the charts', async () => {
	const light = await page.evaluate(() =>
	    getComputedStyle(document.body).backgroundColor);

	await page.emulateMedia({ colorScheme: 'dark' });
	await page.waitForFunction((bg) =>
	    getComputedStyle(document.body).backgroundColor !== bg, light,
	    { timeout: DEADLINE });
	const list = await waitCharts('four charts in the dark',
	    (l) => l.length === 4);
	assert.equal(seriesOf(chartOf(list, 'mse'), 'train').points,
	    LAST_TRAIN + 2);
	const shot = path.join(shots, 'dashboard-dark.png');
	await page.screenshot({ path: shot, fullPage: true });
	console.log('# screenshot: ' + shot);
	await page.emulateMedia({ colorScheme: 'light' });
});

test('no errors in the page console (CSP included)', () => {
	assert.deepEqual(consoleErrors, []);
});
