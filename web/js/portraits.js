// Step 5: the person's jobs — a live progress bar for each running one (from
// the server-sent events at /api/jobs/{id}/events) with a cancel button —
// and the gallery of every finished portrait.

import { api, withQuery } from './api.js';
import { $, h, replace, announce, plural, formatDate } from './dom.js';
import { state, on } from './state.js';
import { JOB_STATE, badge, likenessBadge, stageWords } from './labels.js';

let ctx;
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
// id → {job, card, source (EventSource), poll (timer), lastWords, request}
const tracked = new Map();
// What was asked for each job made in this tab (the Job may not echo it).
const requested = new Map();

export function init(context) {
  ctx = context;
  $('#portraits-more').addEventListener('click', () => ctx.go('studio', 'describe'));
  $('#jobs-empty-describe').addEventListener('click', () => ctx.go('studio', 'describe'));
  // A different person (or none): stop listening to the last one's jobs.
  let subjectId = null;
  on(['subject'], (s) => {
    const id = s.subject && s.subject.id;
    if (id !== subjectId) {
      stopAll();
      replace($('#jobs'));
      subjectId = id;
    }
  });
}

/** Remember a job just created, so its card shows at once. */
export function track(job, request) {
  if (request) requested.set(job.id, request);
  upsert(job);
}

export async function enter() {
  if (!state.subject) return;
  try {
    const { jobs = [] } = await api.jobs(state.subject.id);
    // Newest first, as the API lists them; cards already shown are updated.
    for (const job of [...jobs].reverse()) upsert(job);
  } catch (err) {
    if (err.status !== 401) replace($('#jobs'), h('p', { class: 'error' }, err.message));
  }
  $('#jobs-empty').hidden = tracked.size > 0;
}

/** Close every event stream and timer (sign-out, another person). */
export function stopAll() {
  for (const t of tracked.values()) stop(t);
  tracked.clear();
}

function stop(t) {
  if (t.source) t.source.close();
  t.source = null;
  clearTimeout(t.poll);
  t.poll = 0;
}

// ---- One job ---------------------------------------------------------------

function upsert(job) {
  let t = tracked.get(job.id);
  if (!t) {
    t = { job, card: jobCard(job), source: null, poll: 0, lastWords: '' };
    tracked.set(job.id, t);
    $('#jobs').prepend(t.card);
    $('#jobs-empty').hidden = true;
  }
  update(t, job);
  if (!TERMINAL.has(job.state) && !t.source && !t.poll) listen(t);
  // The job list may leave outputs out: a finished job's own answer has them.
  else if (job.state === 'done' && !(job.outputs || []).length && !t.detailed) {
    t.detailed = true;
    api.job(job.id).then(
      (full) => update(t, full),
      () => {},
    );
  }
}

/** Follow a job's progress by server-sent events; fall back to polling. */
function listen(t) {
  const id = t.job.id;
  let ended = false;
  const source = new EventSource(api.jobEventsUrl(id));
  t.source = source;
  source.addEventListener('progress', (e) => {
    const p = parse(e.data);
    if (p) progress(t, p);
  });
  source.addEventListener('end', (e) => {
    ended = true;
    stop(t); // close before the server does, or EventSource reconnects
    const data = parse(e.data);
    const job = data && (data.job || data);
    if (job && job.id) update(t, job);
    else refetch(t);
  });
  source.addEventListener('error', () => {
    if (ended) return;
    // The stream broke (a proxy, a restart, or no event support): ask instead.
    stop(t);
    refetch(t);
  });
}

async function refetch(t) {
  try {
    const job = await api.job(t.job.id);
    update(t, job);
    if (!TERMINAL.has(job.state) && tracked.get(job.id) === t) t.poll = setTimeout(() => refetch(t), 1500);
  } catch (err) {
    if (err.status === 404) {
      // Deleted elsewhere.
      t.card.remove();
      tracked.delete(t.job.id);
    } else if (err.status !== 401 && tracked.get(t.job.id) === t) {
      t.poll = setTimeout(() => refetch(t), 4000);
    }
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A progress event: {fraction, item, stage, state}. */
function progress(t, p) {
  // A final state arrives with its outputs in the 'end' event: until then, keep running.
  const state = p.state && !TERMINAL.has(p.state) ? p.state : t.job.state;
  update(t, { ...t.job, state, progress: { ...(t.job.progress || {}), ...p } });
}

// ---- Rendering -----------------------------------------------------------------

function jobCard(job) {
  const titleId = `job-${job.id}-title`;
  const card = h(
    'article',
    { class: 'job', 'aria-labelledby': titleId, dataset: { jobId: job.id } },
    h('header', { class: 'job-head' }, h('h3', { id: titleId, class: 'job-title' }), h('span', { class: 'job-state' })),
    h('p', { class: 'job-asked muted' }),
    h(
      'div',
      { class: 'job-progress' },
      h('progress', { max: '1', value: '0', 'aria-labelledby': titleId, 'aria-describedby': `job-${job.id}-status` }),
      h(
        'div',
        { class: 'job-progress-row' },
        h('p', { class: 'job-status', id: `job-${job.id}-status`, role: 'status', 'aria-live': 'polite' }),
        h('span', { class: 'job-percent', 'aria-hidden': 'true' }),
      ),
      h('button', { type: 'button', class: 'btn btn-secondary btn-small job-cancel' }, 'Cancel'),
    ),
    h('p', { class: 'error job-error', role: 'alert' }),
    h('ul', { class: 'gallery', 'aria-label': 'Portraits' }),
    h('p', { class: 'job-links' }),
  );
  card.querySelector('.job-cancel').addEventListener('click', (e) => cancel(job.id, e.currentTarget));
  return card;
}

function update(t, job) {
  // A list's copy of a job may leave out outputs already shown: keep them.
  if (!(job.outputs || []).length && (t.job.outputs || []).length) job = { ...job, outputs: t.job.outputs };
  t.job = job;
  const card = t.card;
  const running = !TERMINAL.has(job.state);
  // What was asked: this tab's request, else the job's echo of it (`spec`).
  const asked = requested.get(job.id) || job.spec || job;
  const when = job.created_at ? new Date(job.created_at) : null;
  const count = asked.count || job.count || (job.outputs || []).length || 1;
  card.querySelector('.job-title').textContent = `${plural(count, 'portrait')}${
    when && !Number.isNaN(when.getTime())
      ? `, ${formatDate(job.created_at)} ${when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`
      : ''
  }`;
  const tone = { done: 'good', failed: 'bad', cancelled: 'neutral' }[job.state] || 'info';
  replace(card.querySelector('.job-state'), badge(tone, JOB_STATE[job.state] || job.state));
  card.querySelector('.job-asked').textContent = describeAsk(asked);
  card.classList.toggle('is-running', running);

  // Progress: the bar always; the words (a live region) only when they change,
  // so a screen reader hears "relighting", not every percent.
  const p = job.progress || {};
  const fraction = job.state === 'done' ? 1 : Math.max(0, Math.min(1, Number(p.fraction) || 0));
  const progressBox = card.querySelector('.job-progress');
  progressBox.hidden = !running;
  card.querySelector('progress').value = fraction;
  card.querySelector('.job-percent').textContent = `${Math.round(fraction * 100)}%`;
  const words = running ? progressWords(job.state, p) : finishedWords(job);
  if (words !== t.lastWords) {
    t.lastWords = words;
    card.querySelector('.job-status').textContent = words;
    if (!running) announce($('#announcer'), words);
  }

  card.querySelector('.job-error').textContent =
    job.state === 'failed' && job.error ? `This job failed: ${job.error.message || job.error.code}` : '';

  // The gallery: add outputs not shown yet (keeps toggles as they are).
  const gallery = card.querySelector('.gallery');
  const shown = new Set([...gallery.children].map((li) => li.dataset.outputId));
  const outputs = [...(job.outputs || [])].sort((a, b) => (a.rank || 0) - (b.rank || 0));
  for (const o of outputs) if (!shown.has(String(o.id))) gallery.append(portraitCard(o, outputs.length));

  const links = card.querySelector('.job-links');
  replace(
    links,
    job.state === 'done' && outputs.length > 1
      ? h(
          'a',
          {
            href: job.contact_sheet || `/api/jobs/${encodeURIComponent(job.id)}/contact-sheet`,
            download: `${fileBase()}-contact-sheet.jpg`,
          },
          'Download the contact sheet',
        )
      : null,
  );
}

function describeAsk(a) {
  const bits = [];
  if (a.purpose) bits.push(titleOfPurpose(a.purpose));
  for (const k of ['prompt', 'attire', 'setting', 'lighting', 'composition']) if (a[k]) bits.push(`“${a[k]}”`);
  return bits.join(' · ');
}

function titleOfPurpose(name) {
  const p = state.purposes.find((x) => x.name === name);
  return p ? p.title || p.name : name;
}

function progressWords(jobState, p) {
  if (jobState === 'queued') return 'Waiting for its turn…';
  const parts = [];
  const item = p.item ? photoNames(String(p.item)) : '';
  if (item) parts.push(capitalise(item));
  const stage = stageWords(p.stage);
  if (stage && (!item || !item.toLowerCase().includes(stage))) parts.push(stage);
  return parts.length ? `${parts.join(' — ')}…` : 'Starting…';
}

/** The studio keeps photos under their ids ("p_3f2a.jpg"): say the name they were uploaded with. */
function photoNames(text) {
  return text.replace(/\b([A-Za-z]+_[A-Za-z0-9]+)\.[A-Za-z0-9]{2,5}\b/g, (whole, id) => {
    const photo = state.photos.find((p) => p.id === id);
    return photo ? photo.name : whole;
  });
}

function finishedWords(job) {
  const n = (job.outputs || []).length;
  if (job.state === 'done')
    return n
      ? `Done: ${plural(n, 'portrait')} ready.`
      : 'Done, but no portrait passed the likeness check. Try other photos.';
  if (job.state === 'cancelled')
    return n
      ? `Cancelled. ${plural(n, 'portrait')} finished before that ${n === 1 ? 'is' : 'are'} kept.`
      : 'Cancelled.';
  if (job.state === 'failed') return 'Failed.';
  return JOB_STATE[job.state] || job.state;
}

async function cancel(id, button) {
  button.disabled = true;
  button.textContent = 'Cancelling…';
  try {
    const job = await api.cancelJob(id);
    const t = tracked.get(id);
    if (t) {
      update(t, job);
      if (!TERMINAL.has(job.state) && !t.source && !t.poll) refetch(t);
    }
  } catch (err) {
    button.disabled = false;
    button.textContent = 'Cancel';
    const t = tracked.get(id);
    if (t) t.card.querySelector('.job-error').textContent = `Could not cancel: ${err.message}`;
  }
}

// ---- One portrait ------------------------------------------------------------------

function fileBase() {
  const name = (state.subject && state.subject.name) || 'portrait';
  return `${
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'portrait'
  }`;
}

function portraitCard(o, total) {
  const who = (state.subject && state.subject.name) || 'the person';
  const label = `Portrait ${o.rank || 1} of ${total}`;
  const img = h('img', {
    class: 'portrait-img',
    src: o.image,
    alt: `${label}: ${who}, as made`,
    width: o.width || null,
    height: o.height || null,
  });
  const overlay = o.edit_map ? h('img', { class: 'portrait-overlay', src: o.edit_map, alt: '', hidden: true }) : null;
  // The edit map's colours (README: blue backdrop, green retouch, red relight or recolour).
  const key = (colour, words) =>
    h('span', { class: 'legend-item' }, h('span', { class: `swatch swatch-${colour}`, 'aria-hidden': 'true' }), words);
  const legend = h(
    'p',
    { class: 'edit-legend', hidden: true },
    h('span', { class: 'sr-only' }, 'Colours of the overlay: '),
    key('blue', 'new backdrop'),
    key('green', 'skin retouch, noise'),
    key('red', 'light or colour'),
    key('black', 'your photo as it was'),
  );
  const caption = h('span', { class: 'portrait-which' }, 'After');

  // Before/after: swap the picture for the source under the same framing.
  const beforeBtn = o.before
    ? h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'Before')
    : null;
  beforeBtn?.addEventListener('click', () => {
    const showBefore = beforeBtn.getAttribute('aria-pressed') !== 'true';
    beforeBtn.setAttribute('aria-pressed', String(showBefore));
    img.src = showBefore ? o.before : o.image;
    img.alt = `${label}: ${who}, ${showBefore ? 'the original photo, framed the same, nothing else changed' : 'as made'}`;
    caption.textContent = showBefore ? 'Before' : 'After';
  });
  const mapBtn = overlay
    ? h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'What changed')
    : null;
  mapBtn?.addEventListener('click', () => {
    const on = mapBtn.getAttribute('aria-pressed') !== 'true';
    mapBtn.setAttribute('aria-pressed', String(on));
    overlay.hidden = !on;
    legend.hidden = !on;
  });

  // Favourites: marked on this device (the API keeps no such mark).
  const star = h('span', { 'aria-hidden': 'true', class: 'star' });
  const favBtn = h(
    'button',
    { type: 'button', class: 'toggle toggle-fav', 'aria-pressed': 'false' },
    star,
    'Favourite',
  );
  const showFav = (on) => {
    favBtn.setAttribute('aria-pressed', String(on));
    star.textContent = on ? '★' : '☆';
    item.classList.toggle('is-favourite', on);
  };
  favBtn.addEventListener('click', () => {
    const on = favBtn.getAttribute('aria-pressed') !== 'true';
    setFavourite(o.id, on);
    showFav(on);
  });

  const summary = summaryLines(o);
  const base = `${fileBase()}-${o.rank || 1}`;
  const item = h(
    'li',
    { class: 'portrait', dataset: { outputId: o.id } },
    h(
      'figure',
      {},
      h('div', { class: 'portrait-frame' }, img, overlay, caption),
      h(
        'figcaption',
        { class: 'portrait-caption' },
        likenessBadge(o.likeness),
        o.rank === 1 && total > 1 ? badge('info', 'Best') : null,
      ),
    ),
    h('div', { class: 'portrait-toggles', role: 'group', 'aria-label': `${label}: view` }, beforeBtn, mapBtn, favBtn),
    legend,
    summary.length
      ? h(
          'details',
          { class: 'portrait-summary', open: (o.rank || 1) === 1 },
          h('summary', {}, `What we changed (${summary.length})`),
          h(
            'ul',
            {},
            summary.map((s) => h('li', {}, s)),
          ),
        )
      : null,
    h(
      'div',
      { class: 'portrait-downloads', role: 'group', 'aria-label': `${label}: download` },
      h('span', { class: 'downloads-label', 'aria-hidden': 'true' }, 'Download'),
      h(
        'a',
        { class: 'btn btn-primary btn-small', href: downloadUrl(o, 'jpeg'), download: `${base}.jpg` },
        h('span', { class: 'sr-only' }, 'Download '),
        'JPEG',
      ),
      h(
        'a',
        { class: 'btn btn-secondary btn-small', href: downloadUrl(o, 'png'), download: `${base}.png` },
        h('span', { class: 'sr-only' }, 'Download '),
        'PNG',
      ),
    ),
  );
  showFav(favourites().has(String(o.id)));
  return item;
}

const FAV_KEY = 'likeness.favourites';
function favourites() {
  try {
    return new Set(JSON.parse(localStorage.getItem(FAV_KEY) || '[]'));
  } catch {
    return new Set();
  }
}
function setFavourite(id, on) {
  const f = favourites();
  if (on) f.add(String(id));
  else f.delete(String(id));
  try {
    localStorage.setItem(FAV_KEY, JSON.stringify([...f]));
  } catch {
    /* storage disabled: the mark lasts as long as the page */
  }
}

/** The output's download URL in a format (the API's own, else ?format=). */
function downloadUrl(o, format) {
  return (o.download && o.download[format]) || withQuery(o.image, { format });
}

/** The plain-language summary as lines ("a; b; c" or a list), else the edits. */
function summaryLines(o) {
  let lines = [];
  if (Array.isArray(o.summary)) lines = o.summary;
  else if (typeof o.summary === 'string' && o.summary.trim()) lines = o.summary.split(/;\s+/);
  else if (Array.isArray(o.edits))
    lines = o.edits.map((e) => (typeof e === 'string' ? e : e.summary || e.description || e.stage));
  return lines.filter(Boolean).map(capitalise);
}

function capitalise(s) {
  s = String(s).trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
