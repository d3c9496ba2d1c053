// Shared set-up for the browser tests: the real `likeness serve` on a free
// port with a fresh data folder, Debian's Chromium through playwright-core,
// axe-core, and screenshots.
//
// Environment:
//   LIKENESS_BIN          the server binary (default: build/likeness of this repo)
//   LIKENESS_FACES_DIR    the shared test photos (default /work/shared/faces)
//   LIKENESS_SCREENSHOTS  a folder to save screenshots into (none if unset)
//   LIKENESS_CHROMIUM     the browser (default /usr/bin/chromium)
//   LIKENESS_PG_CLUSTER   if set, the pg_cluster test binary: the server runs
//                         with --db on a throw-away PostgreSQL it starts, and a
//                         `likeness worker` runs the jobs (several machines' way)
//   NODE_PATH             where playwright-core and axe-core are installed
//                         (npm ci of tools/web, e.g. ~/.cache/likeness/npm-web/node_modules)
//   LIKENESS_MODELS, LIKENESS_ORT_DIR and the rest of the environment pass
//   through to the server.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

// ES modules ignore NODE_PATH; require() honours it.
const require = createRequire(import.meta.url);
export const { chromium } = require('playwright-core');
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.LIKENESS_BIN || path.join(REPO, 'build', 'likeness');
export const FACES = process.env.LIKENESS_FACES_DIR || '/work/shared/faces';
export const SHOTS = process.env.LIKENESS_SCREENSHOTS || '';
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 812 };

export function face(name) {
  return path.join(FACES, 'people', name);
}

// The first line a child prints (its URL), or the reason it gave none.
function firstLine(child, what, pattern, stderrOf) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not say it was ready within 60 s.\n${stderrOf()}`)),
      60000,
    );
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = pattern.exec(line);
      if (m) resolve(m[1].replace(/\/$/, ''));
      else reject(new Error(`unexpected first line from ${what}: ${line}\n${stderrOf()}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready.\n${stderrOf()}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function spawnLogged(bin, args, stdin = 'ignore') {
  const child = spawn(bin, args, { env: process.env, stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  return { child, stderr: () => stderr };
}

async function stopChild(child, how = () => child.kill('SIGTERM')) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  how();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

/**
 * Start `$LIKENESS_BIN serve --port 0 --data <fresh dir>` and wait for its
 * first line, "listening on http://127.0.0.1:PORT". Returns {url, stop()}.
 * With LIKENESS_PG_CLUSTER: a throw-away PostgreSQL first, the server with
 * --db, and a `likeness worker` beside it.
 */
export async function startServer() {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'likeness-web-test-'));
  let pg = null;
  let worker = null;
  const args = ['serve', '--port', '0', '--data', data];
  if (process.env.LIKENESS_PG_CLUSTER) {
    // pg_cluster stops its server when its standard input closes.
    pg = spawnLogged(process.env.LIKENESS_PG_CLUSTER, [], 'pipe');
    const db = await firstLine(pg.child, 'pg_cluster', /^(postgresql:\/\/\S+)/, pg.stderr);
    pg.child.stdout.resume();
    args.push('--db', db);
    worker = spawnLogged(BIN, ['worker', '--db', db, '--jobs', '1', '--threads-per-job', '2', '--lease', '15']);
    worker.child.stdout.resume();
  }
  const server = spawnLogged(BIN, args);
  const url = await firstLine(server.child, `${BIN} serve`, /listening on (http:\/\/[^\s]+)/, server.stderr);
  server.child.stdout.resume(); // keep draining its output

  return {
    url,
    stderr: () => server.stderr() + (worker ? `\n[worker]\n${worker.stderr()}` : ''),
    async stop() {
      await stopChild(server.child);
      if (worker) await stopChild(worker.child);
      if (pg) await stopChild(pg.child, () => pg.child.stdin.end());
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

// Headless Debian Chromium, nothing fetched from the network by the
// browser itself; playwright-core gives each launch a fresh temporary
// user-data-dir, removed at close.
export async function launch() {
  return chromium.launch({
    executablePath: process.env.LIKENESS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A page that records everything that should never happen: uncaught errors,
 * console errors (CSP violations are reported there) and failed requests
 * other than the API's own error answers.
 */
export async function newPage(browser, { viewport = DESKTOP } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, deviceScaleFactor: 1 });
  const page = await context.newPage();
  // Any CSP violation (an inline style or script slipped in) is an error.
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} (${e.blockedURI || 'inline'})`),
    ),
  );
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // The browser logs every 4xx/5xx answer; the tests provoke some on purpose.
    if (/Failed to load resource: the server responded with a status of (4\d\d|5\d\d)/.test(text)) return;
    page.problems.push(`console error: ${text}`);
  });
  return { context, page };
}

/** Run axe-core on the page as it is; return the serious and critical violations. */
export async function axe(page, label) {
  // evaluate() runs outside the page's CSP, so the page's policy stays strict.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary}`),
    }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const text = bad.map((v) => `[${v.impact}] ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
    throw new Error(`axe found ${bad.length} serious/critical violation(s) at "${label}":\n${text}`);
  }
  return result;
}

/** The page scrolls sideways? (It must not, at phone width.) */
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const doc = document.documentElement;
    if (doc.scrollWidth <= doc.clientWidth + 1) return null;
    // Name the widest offenders to make a failure readable.
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1 && el.offsetParent !== null)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')}`);
    return `scrollWidth ${doc.scrollWidth} > clientWidth ${doc.clientWidth}: ${wide.join(', ')}`;
  });
}

/** Save a full-page screenshot if LIKENESS_SCREENSHOTS is set. */
export async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/**
 * Check the current state at desktop and phone size: axe (no serious or
 * critical violations), no horizontal scroll on the phone, screenshots.
 */
export async function checkState(page, name) {
  await axe(page, `${name} (desktop)`);
  await shot(page, `${name}-desktop`);
  const size = page.viewportSize();
  await page.setViewportSize(PHONE);
  try {
    const overflow = await horizontalOverflow(page);
    if (overflow) throw new Error(`"${name}" scrolls sideways at 375×812: ${overflow}`);
    await axe(page, `${name} (phone)`);
    await shot(page, `${name}-phone`);
  } finally {
    await page.setViewportSize(size);
  }
}

/** Press Tab until the focused element matches `selector` (at most `max` presses). */
export async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement && document.activeElement.matches(sel), selector))
      return i + 1;
  }
  const at = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 120));
  throw new Error(`Tab did not reach ${selector} in ${max} presses (focus is on ${at})`);
}

export const PASSWORD = 'correct horse battery';

/** A fresh user name for each test. */
export function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Sign up through the page, then add a person and give consent. */
export async function signUpWithConsent(page, url, { user, person }) {
  await page.goto(`${url}/`);
  const form = page.locator('#form-signup');
  await form.getByLabel('Your name or e-mail').fill(user);
  await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Who are the portraits of?' }).waitFor();
  await page.getByLabel('Their name').fill(person);
  await page.getByRole('button', { name: 'Add person' }).click();
  await page.getByRole('heading', { name: 'Consent' }).waitFor();
  await page.getByLabel('I have read the text above and agree to it').check();
  await page.getByRole('button', { name: 'Give consent' }).click();
  await page.getByRole('heading', { name: `Photos of ${person}` }).waitFor();
}
