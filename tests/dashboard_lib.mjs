// What the dashboard's browser tests share: starting lossmond on an
// ephemeral loopback port against a SQLite file in a temporary folder,
// calling its API, and driving /usr/bin/chromium with playwright-core.
// Not a test by itself.
//
// Environment (set by make check): LOSSMOND, TOP_SRCDIR, NODE_PATH.
// A test exits 77 (skip) when playwright-core or /usr/bin/chromium is
// missing, unless LOSSMON_REQUIRE_BROWSER=1, which makes that a failure.
// LOSSMON_SHOTS_DIR names a folder for the screenshots (the README's come
// from `LOSSMON_SHOTS_DIR=docs`); otherwise they go to a temporary one.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const TOP = process.env.TOP_SRCDIR || path.dirname(HERE);
export const LOSSMOND = process.env.LOSSMOND ||
    path.join(TOP, 'src', 'lossmond');
// How much longer everything takes when the daemon runs under a wrapper
// such as valgrind, which also runs its threads one at a time.
const SLOWER = process.env.LOSSMON_WRAPPER ? 6 : 1;
// Generous, for things to appear.
export const DEADLINE = 30000 * SLOWER;
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
	'--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync'];
const LISTENING = /listening on (http:\/\/\S+?)\/?\s/;

// The page's policy, added when the daemon sends none, so that a
// violation (an inline script or style) shows as a console error.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; " +
    "form-action 'none'; frame-ancestors 'none'";

function skipOrFail(why) {
	if (process.env.LOSSMON_REQUIRE_BROWSER === '1') {
		console.error('not ok - ' + why +
		    ' (LOSSMON_REQUIRE_BROWSER=1)');
		process.exit(1);
	}
	console.log('# SKIP ' + why);
	process.exit(77);
}

// Resolution goes through the source tree too, so a test works whatever
// the current directory is.
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

// Exits with 77 (or 1) when the browser tools are missing.
export function requireBrowser() {
	const pw = loadPlaywright();

	if (!pw)
		skipOrFail('playwright-core is not installed (npm ci)');
	try {
		fs.accessSync(CHROMIUM, fs.constants.X_OK);
	} catch (e) {
		skipOrFail(CHROMIUM +
		    ' is missing (apt-get install chromium)');
	}
	return pw;
}

// A test's temporary folder, its daemons and its browser; everything
// is cleaned up on exit, and a hang ends the process (after SLOWER
// times as long).
export function workspace(prefix, hangMs) {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	const daemons = [];
	const shots = process.env.LOSSMON_SHOTS_DIR ?
	    path.resolve(process.env.LOSSMON_SHOTS_DIR) :
	    fs.mkdtempSync(path.join(os.tmpdir(), prefix + 'shots-'));

	fs.mkdirSync(shots, { recursive: true });
	process.on('exit', () => {
		for (const d of daemons)
			d.kill();
		fs.rmSync(tmp, { recursive: true, force: true });
	});
	setTimeout(() => {
		console.error('not ok - the test hung; giving up');
		for (const d of daemons)
			console.error(d.log().slice(-3000)
			    .replace(/^/gm, '# '));
		process.exit(1);
	}, SLOWER * hangMs).unref();
	for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		process.on(sig, () => {
			console.error('# interrupted by ' + sig);
			process.exit(1);	// the exit handler cleans up
		});
	}
	return { tmp, shots, daemons };
}

// Starts lossmond on db; resolves to { base, stop(), kill(), log() }
// once it logs where it listens.
export function startDaemon(ws, db, extraArgs) {
	const args = ['--listen', '127.0.0.1:0', '--db', db, '--web',
	    path.join(TOP, 'web')].concat(extraArgs || []);
	// LOSSMON_WRAPPER (valgrind, say) goes in front, as in daemon.py.
	const wrap = (process.env.LOSSMON_WRAPPER || '').split(/\s+/)
	    .filter(Boolean);
	const child = spawn(wrap.length ? wrap[0] : LOSSMOND,
	    wrap.length ? wrap.slice(1).concat([LOSSMOND], args) : args, {
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	let log = '';
	const running = () => child.exitCode === null &&
	    child.signalCode === null;
	const d = {
		base: null,
		log: () => log,
		kill() {
			if (running())
				child.kill('SIGKILL');
		},
		// SIGTERM, then wait for the exit: the file is then closed.
		// A wrapped daemon must then exit 0 (no leak, no error).
		stop() {
			if (!running())
				return Promise.resolve();
			return new Promise((resolve, reject) => {
				child.once('exit', (code) => {
					if (wrap.length && code !== 0)
						reject(new Error('lossmond exited ' +
						    code + ' under ' + wrap[0] +
						    ':\n' + log.slice(-3000)));
					else
						resolve();
				});
				child.kill('SIGTERM');
			});
		},
	};

	ws.daemons.push(d);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
		    'lossmond did not say where it listens:\n' + log)),
		    DEADLINE);

		child.on('error', (e) => {
			clearTimeout(timer);
			reject(new Error('cannot start ' + LOSSMOND + ': ' +
			    e.message));
		});
		child.on('exit', (code, sig) => {
			clearTimeout(timer);
			reject(new Error('lossmond exited (' + (sig || code) +
			    '):\n' + log));
		});
		child.stderr.setEncoding('utf8');
		child.stderr.on('data', (chunk) => {
			log += chunk;
			if (log.length > 200000)
				log = log.slice(-100000);
			const m = LISTENING.exec(log);
			if (m && !d.base) {
				clearTimeout(timer);
				d.base = m[1];
				resolve(d);
			}
		});
	});
}

// Calls the API; resolves to the parsed reply, throws on a non-2xx.
export async function api(base, method, urlPath, body) {
	const res = await fetch(base + urlPath, {
		method,
		headers: body ? { 'Content-Type': 'application/json' } : {},
		body: body ? JSON.stringify(body) : undefined,
		signal: AbortSignal.timeout(DEADLINE),
	});
	const text = await res.text();

	if (!res.ok)
		throw new Error(method + ' ' + urlPath + ': ' + res.status +
		    ' ' + text);
	return JSON.parse(text);
}

export function runURL(name) {
	return '/api/v1/runs/' + encodeURIComponent(name);
}

// Runs jobs (functions returning promises) with at most `width` at once.
export async function pool(jobs, width) {
	let next = 0;
	const worker = async () => {
		while (next < jobs.length)
			await jobs[next++]();
	};

	await Promise.all(Array.from({ length: width }, worker));
}

// A fresh Chromium profile; the page gets the strict policy and records
// console errors and history requests.
export async function openBrowser(pw, ws, base, viewport) {
	const context = await pw.chromium.launchPersistentContext(
	    path.join(ws.tmp, 'profile-' + Date.now()), {
		executablePath: CHROMIUM,
		args: CHROMIUM_ARGS,
		headless: true,
		viewport: viewport || { width: 1280, height: 900 },
		acceptDownloads: true,
	});
	const page = context.pages()[0] || await context.newPage();
	const b = { context, page, errors: [], history: [] };

	context.setDefaultTimeout(DEADLINE);
	page.on('console', (m) => {
		if (m.type() === 'error')
			b.errors.push(m.text());
	});
	page.on('pageerror', (e) => b.errors.push(String(e)));
	page.on('request', (r) => {
		if (r.url().includes('/history?'))
			b.history.push(new URL(r.url()));
	});
	await page.route(base + '/', async (route) => {
		const res = await route.fetch();
		const headers = res.headers();

		if (!headers['content-security-policy'])
			headers['content-security-policy'] = CSP;
		route.fulfill({ response: res, headers });
	});
	return b;
}

// Waits, with a generous deadline, for fn(value of read()) to hold;
// resolves to that value.
export async function waitFor(what, read, fn) {
	const end = Date.now() + DEADLINE;
	let last = null;

	for (;;) {
		last = await read();
		try {
			if (fn(last))
				return last;
		} catch (e) {
			// not there yet
		}
		if (Date.now() > end)
			assert.fail('timed out waiting for ' + what +
			    '; last: ' + JSON.stringify(last).slice(0, 2000));
		await new Promise((r) => setTimeout(r, 100));
	}
}

export function chartOf(list, metric) {
	const c = list.find((x) => x.metric === metric);

	assert.ok(c, 'no chart for ' + metric + ' among ' +
	    list.map((x) => x.metric).join(', '));
	return c;
}

export function lineOf(chart, run, split) {
	const l = chart.lines.find((x) => x.run === run && x.split === split);

	assert.ok(l, 'chart ' + chart.metric + ' has no line ' + run + '/' +
	    split);
	return l;
}
