// The dashboard against a lossmond that wants a read token: the page
// asks for it on the first 401, sends it as a bearer token from then on,
// and the runs appear.  Real daemon, real headless Chromium.
//
// Environment and skipping: see tests/dashboard_lib.mjs.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	requireBrowser, workspace, startDaemon, runURL, openBrowser, waitFor,
	DEADLINE,
} from './dashboard_lib.mjs';

const pw = requireBrowser();
const ws = workspace('lossmon-token-', 120000);
const READ = 'read-token-' + 'x'.repeat(24);
const WRITE = 'write-token-' + 'y'.repeat(24);
let br = null;
let d = null;

after(async () => {
	if (br)
		await br.context.close();
	if (d)
		await d.stop();
});

async function call(base, method, url, body, token) {
	const headers = { 'Content-Type': 'application/json' };

	if (token)
		headers.Authorization = 'Bearer ' + token;
	const res = await fetch(base + url, {
		method, headers, body: JSON.stringify(body),
		signal: AbortSignal.timeout(DEADLINE),
	});
	return res.status;
}

test('the page asks for the read token and then shows the runs',
    async () => {
	fs.writeFileSync(path.join(ws.tmp, 'read'), READ + '\n');
	fs.writeFileSync(path.join(ws.tmp, 'write'), WRITE + '\n');
	fs.writeFileSync(path.join(ws.tmp, 'conf'), JSON.stringify({
		read_token_file: path.join(ws.tmp, 'read'),
		write_token_file: path.join(ws.tmp, 'write'),
	}));
	d = await startDaemon(ws, path.join(ws.tmp, 't.db'),
	    ['--config', path.join(ws.tmp, 'conf')]);

	assert.equal(await call(d.base, 'POST', runURL('guarded') +
	    '/batches', { step: 0, predictions: [1], targets: [0] }), 401);
	assert.equal(await call(d.base, 'POST', runURL('guarded') +
	    '/batches', { step: 0, predictions: [1], targets: [0] }, WRITE),
	    200);

	br = await openBrowser(pw, ws, d.base);
	await br.page.goto(d.base + '/');
	const form = br.page.locator('#token-form');
	await form.waitFor({ state: 'visible', timeout: DEADLINE });
	assert.equal((await br.page.evaluate(() => window.lossmon.rows))
	    .length, 0);

	await br.page.fill('#token', READ);
	await br.page.press('#token', 'Enter');
	await form.waitFor({ state: 'hidden', timeout: DEADLINE });
	const rows = await waitFor('the run to be listed',
	    () => br.page.evaluate(() => window.lossmon.rows),
	    (r) => r.length === 1);
	assert.equal(rows[0].name, 'guarded');
	// The 401 before the token was given is the only error expected.
	assert.ok(br.errors.every((e) => /401/.test(e)), br.errors.join('\n'));
});
