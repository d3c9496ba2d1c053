// The web page in a real browser against the real server (`likeness serve`).
//
//   NODE_PATH=~/.cache/likeness/npm-web/node_modules LIKENESS_BIN=build/likeness \
//     node --test tests/browser/*.test.mjs
//
// See harness.mjs for the environment it reads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer,
  launch,
  newPage,
  axe,
  checkState,
  shot,
  tabTo,
  face,
  uniqueName,
  signUpWithConsent,
  horizontalOverflow,
  PASSWORD,
  PHONE,
  DESKTOP,
} from './harness.mjs';

const JOB_TIMEOUT = 240_000; // one 512×640 portrait; generous for a loaded machine

let server;
let browser;
let tmp;

before(async () => {
  server = await startServer();
  browser = await launch();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'likeness-web-files-'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function noProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors (CSP violations show here too)');
}

test('keyboard only: Tab reaches the sign-up form and the upload control', { timeout: 120_000 }, async () => {
  const { context, page } = await newPage(browser);
  try {
    await page.goto(`${server.url}/`);
    // The footer says where the photos are kept: this computer, or the
    // studio's own database (serve --db).
    const where = process.env.LIKENESS_PG_CLUSTER ? "studio's own servers" : 'runs on this computer';
    await page.locator('#where', { hasText: where }).waitFor();
    await tabTo(page, '#signup-name');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused field shows where focus is');

    await page.keyboard.type(uniqueName('keys'));
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'signup-password');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Who are the portraits of?' }).waitFor();

    await tabTo(page, '#subject-name');
    await page.keyboard.type('Kay Board');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Consent' }).waitFor();

    await tabTo(page, '#consent-agree');
    await page.keyboard.press('Space');
    await tabTo(page, '#form-consent button[type=submit]');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Photos of Kay Board' }).waitFor();

    // The upload control: reachable by Tab, its focus visible, and it opens
    // the file chooser from the keyboard.
    await tabTo(page, '#photo-input');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement.closest('label')).outlineStyle);
    assert.notEqual(ring, 'none', 'the picker shows its focus');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
    assert.ok(chooser.isMultiple(), 'many photos can be chosen at once');
    await chooser.setFiles([face('person04_1.jpg')]);
    await page.locator('#photo-grid li[data-photo-id] .badge').first().waitFor({ timeout: 60_000 });
    noProblems(page);
  } finally {
    await context.close();
  }
});

test('errors are shown in plain language next to what caused them', { timeout: 120_000 }, async () => {
  const { context, page } = await newPage(browser);
  try {
    const user = uniqueName('errors');
    await signUpWithConsent(page, server.url, { user, person: 'Err Case' });

    // A file that is not an image: the 422's message, next to that file.
    const notPhoto = path.join(tmp, 'shopping-list.jpg');
    fs.writeFileSync(notPhoto, 'eggs, milk, bread — this is not a photo\n');
    const answer = page.waitForResponse(
      (r) => /\/api\/subjects\/[^/]+\/photos$/.test(r.url()) && r.request().method() === 'POST',
    );
    await page.locator('#photo-input').setInputFiles(notPhoto);
    const res = await answer;
    assert.equal(res.status(), 422);
    const body = await res.json();
    assert.equal(body.error.code, 'bad_input');
    const item = page.locator('#photo-grid li.is-error');
    await item.waitFor();
    assert.match(await item.textContent(), /shopping-list\.jpg/);
    // The server's own words (made a sentence: a capital, a full stop).
    const shown = (await item.locator('.photo-error').textContent()).trim().toLowerCase();
    assert.ok(
      shown.startsWith(body.error.message.toLowerCase().replace(/\.$/, '')),
      `"${shown}" shows the 422's message`,
    );
    await checkState(page, '09-error-not-a-photo');

    // Signing in with the wrong password.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('tab', { name: 'Sign in' }).click();
    const signin = page.locator('#form-signin');
    await signin.getByLabel('Your name or e-mail').fill(user);
    await signin.getByLabel('Password').fill('not the password');
    await signin.getByRole('button', { name: 'Sign in' }).click();
    const error = signin.locator('[data-error-for="form"]');
    await error.filter({ hasText: /do not match/ }).waitFor();
    await checkState(page, '10-error-wrong-password');

    // The right password works; a session that ends sends the reader back to sign-in.
    await signin.getByLabel('Password').fill(PASSWORD);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Who are the portraits of?' }).waitFor();
    await page.getByRole('button', { name: /Err Case/ }).click();
    await page.getByRole('heading', { name: 'Photos of Err Case' }).waitFor();
    await context.clearCookies();
    await page.getByRole('button', { name: 'Person', exact: true }).click();
    await signin
      .locator('[data-error-for="form"]')
      .filter({ hasText: /session has ended/ })
      .waitFor();
    assert.ok(await signin.isVisible());
    // Signing in again comes back to the same person.
    await signin.getByLabel('Your name or e-mail').fill(user);
    await signin.getByLabel('Password').fill(PASSWORD);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#person-bar-name').filter({ hasText: 'Err Case' }).waitFor();
    noProblems(page);
  } finally {
    await context.close();
  }
});

test('the whole flow: sign up to portraits, provenance, and deleting everything', { timeout: 600_000 }, async (t) => {
  const { context, page } = await newPage(browser);
  const person = 'Person Four';
  let consentId = '';
  let downloaded = '';
  // Each step stands on the last: after a failure the rest are skipped.
  let broken = '';
  const step = (name, fn) =>
    t.test(name, { skip: broken ? `"${broken}" failed` : false }, async () => {
      try {
        await fn();
      } catch (err) {
        broken = name;
        throw err;
      }
    });

  try {
    await step('sign up', async () => {
      await page.goto(`${server.url}/`);
      await page.getByRole('heading', { name: 'Professional portraits from your own photos' }).waitFor();
      await checkState(page, '01-sign-up');
      const form = page.locator('#form-signup');
      await form.getByLabel('Your name or e-mail').fill(uniqueName('flow'));
      await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await form.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Who are the portraits of?' }).waitFor();
      await checkState(page, '02-person');
    });

    await step('create a person and give consent', async () => {
      await page.getByLabel('Their name').fill(person);
      await page.getByRole('button', { name: 'Add person' }).click();
      await page.getByRole('heading', { name: 'Consent' }).waitFor();
      // The consent text from the server, in plain words, before any upload.
      await page.locator('#consent-text p').filter({ hasNotText: 'Loading' }).first().waitFor();
      assert.match(await page.locator('#consent-text').textContent(), /\w+ \w+ \w+/);
      await page.getByLabel('Who is giving consent').fill('Person Four, for themselves');
      await page
        .locator('#form-consent')
        .getByLabel(/Commercial use/)
        .check();
      await page.getByLabel('Keep the photos and portraits for (days)').fill('30');
      await page.getByLabel('I have read the text above and agree to it').check();
      await checkState(page, '03-consent');
      const answer = page.waitForResponse((r) => r.url().endsWith('/consent') && r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Give consent' }).click();
      const res = await answer;
      assert.equal(res.status(), 201);
      consentId = (await res.json()).id;
      assert.ok(consentId, 'the consent record has an id');
      await page.getByRole('heading', { name: `Photos of ${person}` }).waitFor();
    });

    await step('upload three photos and see their verdicts', async () => {
      const files = ['person04_1.jpg', 'person04_2.jpg', 'person04_3.jpg'].map(face);
      await page.locator('#photo-input').setInputFiles(files);
      // Thumbnails show at once, before the server has answered.
      await page.locator('#photo-grid li img[src^="blob:"]').first().waitFor({ timeout: 5000 });
      const done = page.locator('#photo-grid li[data-photo-id]');
      await page.waitForFunction(
        () =>
          document.querySelectorAll('#photo-grid li[data-photo-id]').length === 3 &&
          !document.querySelector('#photo-grid li.is-uploading'),
        null,
        { timeout: 120_000 },
      );
      // Each card shows its own picture (person04_1 is upright, _2 and _3 are landscape).
      await page.waitForFunction(() =>
        [...document.querySelectorAll('#photo-grid li img')].every((i) => i.complete && i.naturalWidth > 0),
      );
      const shapes = await done.evaluateAll((lis) =>
        Object.fromEntries(
          lis.map((li) => {
            const img = li.querySelector('img');
            return [
              li.querySelector('.photo-name').textContent.trim(),
              img.naturalWidth > img.naturalHeight ? 'wide' : 'tall',
            ];
          }),
        ),
      );
      assert.deepEqual(shapes, { 'person04_1.jpg': 'tall', 'person04_2.jpg': 'wide', 'person04_3.jpg': 'wide' });
      for (const li of await done.all()) {
        assert.match(await li.locator('.badge').first().textContent(), /Good|Usable|Not used/);
        assert.ok((await li.locator('.photo-advice').textContent()).trim().length > 0, 'each photo has advice');
      }
      await page.locator('#set-summary').waitFor();
      assert.match(await page.locator('#set-usable').textContent(), /usable photo/);
      await checkState(page, '04-photos');
      await page.getByRole('button', { name: 'Next: describe the portrait' }).click();
      await page.getByRole('heading', { name: 'Describe the portrait' }).waitFor();
    });

    await step('describe the portrait and see the plan', async () => {
      await page.getByLabel('In your words').fill('a navy blazer, soft window light, make me thinner');
      // The preview: what we will do, and what we will not do and why.
      await page
        .locator('#plan-wont li')
        .filter({ hasText: /thinner/ })
        .waitFor({ timeout: 15_000 });
      await page
        .locator('#plan-will li')
        .filter({ hasText: /navy blazer/ })
        .waitFor();
      await page.getByLabel('How many portraits').fill('1');
      await page.getByLabel('Size').selectOption('512x640');
      await page.getByLabel('Polish').fill('0.3');
      await page
        .locator('#plan:not(.is-updating) #plan-status')
        .filter({ hasText: /up to date/ })
        .waitFor();
      await checkState(page, '05-describe');
    });

    await step('make a portrait and watch its progress', async () => {
      const request = page.waitForRequest((r) => r.url().endsWith('/api/jobs') && r.method() === 'POST');
      const events = page.waitForResponse((r) => /\/api\/jobs\/[^/]+\/events$/.test(r.url()), { timeout: 30_000 });
      await page.getByRole('button', { name: 'Make portraits' }).click();
      const req = await request;
      assert.match(
        req.headers()['idempotency-key'] || '',
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      const body = req.postDataJSON();
      assert.equal(body.count, 1);
      assert.deepEqual(body.params.frame, { width: 512, height: 640 });
      assert.equal(body.params.retouch.polish, 0.3);
      assert.match(body.prompt, /navy blazer/);

      await page.getByRole('heading', { name: `Portraits of ${person}` }).waitFor();
      const job = page.locator('article.job').first();
      await job.waitFor();
      const ev = await events;
      assert.match(ev.headers()['content-type'] || '', /text\/event-stream/);
      if (await job.locator('.job-progress').isVisible()) {
        await axe(page, 'progress');
        await shot(page, '06-progress-desktop');
        await page.setViewportSize(PHONE);
        await shot(page, '06-progress-phone');
        await page.setViewportSize(DESKTOP);
      }
      await job
        .locator('.job-state')
        .filter({ hasText: /Done|Failed|Cancelled/ })
        .waitFor({ timeout: JOB_TIMEOUT });
      assert.equal(
        (await job.locator('.job-state').textContent()).trim(),
        'Done',
        await job.locator('.job-error').textContent(),
      );
    });

    await step('the gallery: likeness badge, before/after, what changed', async () => {
      const card = page.locator('.gallery li.portrait').first();
      await card.waitFor();
      assert.match(
        await card.locator('.portrait-caption .badge').first().textContent(),
        /Looks like you|Less like you/,
      );
      const img = card.locator('img.portrait-img');
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
      const after = await img.getAttribute('src');

      const beforeBtn = card.getByRole('button', { name: 'Before', exact: true });
      await beforeBtn.click();
      assert.equal(await beforeBtn.getAttribute('aria-pressed'), 'true');
      const before = await img.getAttribute('src');
      assert.notEqual(before, after);
      assert.match(before, /before/);
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
      await beforeBtn.click();
      assert.equal(await img.getAttribute('src'), after);
      await checkState(page, '07-gallery');

      const mapBtn = card.getByRole('button', { name: 'What changed' });
      await mapBtn.click();
      await card.locator('img.portrait-overlay').waitFor({ state: 'visible' });
      await checkState(page, '07b-what-changed');
      await mapBtn.click();
      assert.ok((await card.locator('.portrait-summary li').count()) > 0, 'a plain-language summary of the changes');

      const fav = card.getByRole('button', { name: 'Favourite' });
      await fav.click();
      assert.equal(await fav.getAttribute('aria-pressed'), 'true');
    });

    await step('download the JPEG', async () => {
      const card = page.locator('.gallery li.portrait').first();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        card.getByRole('link', { name: 'Download JPEG' }).click(),
      ]);
      downloaded = path.join(tmp, download.suggestedFilename() || 'portrait.jpg');
      await download.saveAs(downloaded);
      const head = fs.readFileSync(downloaded).subarray(0, 3);
      assert.deepEqual([...head], [0xff, 0xd8, 0xff], 'a JPEG');

      const [png] = await Promise.all([
        page.waitForEvent('download'),
        card.getByRole('link', { name: 'Download PNG' }).click(),
      ]);
      const pngPath = path.join(tmp, 'download.png');
      await png.saveAs(pngPath);
      assert.deepEqual([...fs.readFileSync(pngPath).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
    });

    await step('the provenance panel reads the downloaded file', async () => {
      await page.getByRole('link', { name: 'Check a file' }).click();
      await page.getByRole('heading', { name: /Content Credentials/ }).waitFor();
      await page.locator('#verify-input').setInputFiles(downloaded);
      const result = page.locator('#verify-result');
      await result.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await result.textContent();
      assert.match(text, /Signed by/);
      assert.ok(text.includes(consentId), `the manifest names consent record ${consentId}`);
      assert.match(text, /commercial/i, 'the usage rights say what consent allowed');
      assert.ok((await result.locator('ol.actions li').count()) > 0, 'the actions done to it');
      await checkState(page, '08-verify');
    });

    await step('rank headshots from elsewhere', async () => {
      await page.getByRole('link', { name: 'Rank headshots' }).click();
      await page.getByRole('heading', { name: /Which headshots look like/ }).waitFor();
      await page.locator('#rank-input').setInputFiles([face('person05_1.jpg'), face('person04_4.jpg')]);
      const items = page.locator('#rank-list li');
      await page.waitForFunction(() => document.querySelectorAll('#rank-list li').length === 2, null, {
        timeout: 60_000,
      });
      assert.match(await items.nth(0).textContent(), /person04_4\.jpg/);
      assert.match(await items.nth(0).locator('.badge').textContent(), /Looks like you/);
      await checkState(page, '11-rank');
    });

    await step('cancel a job while it runs', async () => {
      await page.getByRole('link', { name: 'Studio' }).click();
      await page.locator('.stepper button[data-step="describe"]').click();
      await page.locator('#step-describe').waitFor();
      await page.getByLabel('How many portraits').fill('3');
      const request = page.waitForRequest((r) => r.url().endsWith('/api/jobs') && r.method() === 'POST');
      await page.getByRole('button', { name: 'Make portraits' }).click();
      assert.equal((await request).postDataJSON().count, 3);
      const job = page.locator('article.job').first();
      await job.locator('.job-state').filter({ hasText: /Working/ }).waitFor({ timeout: JOB_TIMEOUT });
      // Under way: a stage of a photo is named before the cancel.
      await job.locator('.job-status').filter({ hasText: /\S/ }).waitFor({ timeout: 60_000 });
      const id = await job.getAttribute('data-job-id');
      await job.getByRole('button', { name: 'Cancel' }).click();
      await job.locator('.job-state').filter({ hasText: /Cancelled/ }).waitFor({ timeout: 30_000 });
      assert.equal(await job.locator('.gallery li.portrait').count(), 0);
      const after = await page.evaluate(async (j) => (await fetch(`/api/jobs/${j}`)).json(), id);
      assert.equal(after.state, 'cancelled');
      assert.equal((after.outputs || []).length, 0, 'a cancelled job leaves no portrait');
      await checkState(page, '12-cancelled');
    });

    await step('delete everything about the person', async () => {
      await page.getByRole('link', { name: 'Studio' }).click();
      await page.getByRole('button', { name: 'Delete everything…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: `Delete everything about ${person}?` }).waitFor();
      await axe(page, 'delete dialog');
      await shot(page, '13-delete-confirm-desktop');
      await dialog.getByRole('button', { name: `Delete everything about ${person}` }).click();
      const note = page.locator('#deleted-note');
      await note.filter({ hasText: `Everything about ${person} is deleted.` }).waitFor();
      const said = await note.textContent();
      assert.match(said, /photo/);
      // Every count in plain words: no API key shows through ("1 subjects", "photo_digests").
      assert.doesNotMatch(said, /_|\bsubjects\b/, said);
      await page.getByRole('heading', { name: 'Who are the portraits of?' }).waitFor();
      assert.equal(await page.locator('#subject-list li').filter({ hasText: person }).count(), 0);
      const subjects = await page.evaluate(async () => (await (await fetch('/api/subjects')).json()).subjects);
      assert.equal(subjects.length, 0, 'the server keeps nobody');
      await checkState(page, '14-deleted');
    });

    await step('nothing went wrong in the page', async () => noProblems(page));
  } finally {
    await context.close();
  }
});

test(
  'a phone-sized window from the start: the sign-in page fits without sideways scrolling',
  { timeout: 60_000 },
  async () => {
    const { context, page } = await newPage(browser, { viewport: PHONE });
    try {
      await page.goto(`${server.url}/`);
      assert.equal(await horizontalOverflow(page), null);
      await page.getByRole('tab', { name: 'Sign in' }).click();
      assert.equal(await horizontalOverflow(page), null);
      noProblems(page);
    } finally {
      await context.close();
    }
  },
);
