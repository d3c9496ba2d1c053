// Step 3: the person's photos. Drop or pick many at once; each shows at once
// (an object URL) while it uploads, then its verdict and advice from the
// intake; the set's coverage hints say what to add.
//
// Each file is uploaded in its own request: the API keeps nothing of a
// request with an unreadable file (422), so one bad file must not sink the rest.

import { api } from './api.js';
import { $, h, replace, announce, dropTarget, plural } from './dom.js';
import { state, set, usableCount } from './state.js';
import { VERDICT, badge, bytes } from './labels.js';

const MAX_BYTES = 40 * 1000 * 1000; // docs/api.md: at most 40 MB a file
const PARALLEL = 2; // uploads at once

let ctx;
// Files being uploaded or that failed, shown before the server's photos.
// {key, file, url, status: 'uploading'|'error', progress, error}
let pending = [];
// Object URLs of this session's uploads by photo id: shown instead of the
// server thumbnail so the picture does not flash when the upload finishes.
const localUrl = new Map();
let nextKey = 1;

const VIEW_WORDS = {
  frontal: 'facing the camera',
  three_quarter_left: 'three-quarter view',
  three_quarter_right: 'three-quarter view',
  three_quarter: 'three-quarter view',
  profile_left: 'profile',
  profile_right: 'profile',
  profile: 'profile',
};

export function init(context) {
  ctx = context;
  dropTarget($('#photo-drop'), $('#photo-input'), addFiles);
  $('#photos-next').addEventListener('click', () => ctx.go('studio', 'describe'));
}

export async function enter() {
  render();
  await reload();
}

/** Fetch the subject's photos and set afresh. */
async function reload() {
  if (!state.subject) return;
  try {
    const res = await api.photos(state.subject.id);
    set({ photos: res.photos || [], set: res.set || null });
  } catch (err) {
    if (err.status !== 401) $('#photo-status').textContent = err.message;
  }
  render();
}

async function addFiles(files) {
  const subjectId = state.subject && state.subject.id;
  if (!subjectId) return;
  const items = files.map((file) => ({
    key: nextKey++,
    file,
    url: URL.createObjectURL(file),
    status: 'uploading',
    progress: 0,
    error: '',
  }));
  pending = [...items, ...pending];
  render();
  announce($('#photo-status'), `Uploading ${plural(items.length, 'photo')}…`);

  let added = 0;
  let failed = 0;
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      if (item.file.size > MAX_BYTES) {
        fail(item, `This file is ${bytes(item.file.size)}; the most a photo may be is 40 MB.`);
        failed += 1;
        continue;
      }
      try {
        const res = await api.uploadPhotos(subjectId, [item.file], (f) => {
          item.progress = f;
          updateProgress(item);
        });
        pending = pending.filter((p) => p !== item);
        if (state.subject && state.subject.id === subjectId) adopt(res, item);
        added += 1;
      } catch (err) {
        if (err.status === 401) return;
        fail(item, err.message);
        failed += 1;
      }
      render();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  if (state.subject && state.subject.id === subjectId) await reload();

  const usable = usableCount();
  const parts = [];
  if (added) parts.push(`${plural(added, 'photo')} added; ${plural(usable, 'usable photo')} in all.`);
  if (failed)
    parts.push(
      `${failed === 1 ? 'One file' : `${failed} files`} could not be used — see the message next to ${failed === 1 ? 'it' : 'each'}.`,
    );
  const message = parts.join(' ');
  announce($('#photo-status'), message);
}

/**
 * Take an upload's answer into the page. The answer lists the subject's
 * photos after the upload (all of them: verdicts change as the set grows);
 * the one that is new and has the file's name is this upload's, and keeps
 * showing the local picture.
 */
function adopt(res, item) {
  const known = new Set(state.photos.map((p) => p.id));
  const listed = res.photos || [];
  const fresh = listed.filter((p) => !known.has(p.id));
  // Uploads run side by side, so another answer may have listed this one
  // first: match by name among photos without a local picture yet.
  const named = listed.filter((p) => p.name === item.file.name && !localUrl.has(p.id));
  const mine = named.find((p) => !known.has(p.id)) || named[0] || (listed.length === 1 ? listed[0] : null);
  if (mine && !localUrl.has(mine.id)) localUrl.set(mine.id, item.url);
  // A full list replaces ours; a list of only the new ones is added to it.
  const full = [...known].every((id) => listed.some((p) => p.id === id));
  const photos = full ? listed : [...fresh, ...state.photos];
  set({ photos, set: res.set || state.set });
}

function fail(item, message) {
  item.status = 'error';
  item.error = message;
}

function updateProgress(item) {
  const bar = document.querySelector(`[data-upload-key="${item.key}"] progress`);
  if (bar) bar.value = item.progress;
}

function dismiss(item) {
  URL.revokeObjectURL(item.url);
  pending = pending.filter((p) => p !== item);
  render();
  $('#photo-input').focus();
}

async function remove(photo, button) {
  button.disabled = true;
  try {
    await api.deletePhoto(photo.id);
    const url = localUrl.get(photo.id);
    if (url) URL.revokeObjectURL(url);
    localUrl.delete(photo.id);
    await reload();
    announce($('#photo-status'), `${photo.name || 'The photo'} removed.`);
    $('#photo-input').focus();
  } catch (err) {
    button.disabled = false;
    announce($('#photo-status'), err.message);
  }
}

// ---- Rendering --------------------------------------------------------------

function render() {
  const grid = $('#photo-grid');
  replace(grid, pending.map(pendingItem), state.photos.map(photoItem));
  renderSet();
  const usable = usableCount();
  $('#photos-next').disabled = usable === 0;
  $('#photos-next-hint').hidden = usable > 0;
}

function pendingItem(item) {
  const name = item.file.name || 'photo';
  return h(
    'li',
    { class: `photo is-${item.status}`, dataset: { uploadKey: item.key } },
    h(
      'div',
      { class: 'photo-thumb' },
      h('img', { src: item.url, alt: name, onerror: noPreview }),
      item.status === 'uploading'
        ? h('progress', { max: '1', value: String(item.progress), 'aria-label': `Uploading ${name}` })
        : null,
    ),
    h(
      'div',
      { class: 'photo-body' },
      item.status === 'uploading' ? badge('neutral', 'Checking…') : badge('bad', 'Not added'),
      h('p', { class: 'photo-name' }, name),
      item.error ? h('p', { class: 'error photo-error' }, item.error) : null,
      item.status === 'error'
        ? h(
            'button',
            { type: 'button', class: 'btn-link', onclick: () => dismiss(item) },
            h('span', {}, 'Dismiss'),
            h('span', { class: 'sr-only' }, ` ${name}`),
          )
        : null,
    ),
  );
}

/** A file the browser cannot show (not an image, or HEIC): a plain tile instead. */
function noPreview(e) {
  e.currentTarget.replaceWith(h('span', { class: 'no-preview' }, 'No preview'));
}

function photoItem(photo) {
  const v = VERDICT[photo.verdict] || { label: photo.verdict || 'Checked', tone: 'neutral' };
  const name = photo.name || 'photo';
  const view = VIEW_WORDS[photo.view];
  return h(
    'li',
    { class: `photo verdict-${photo.verdict}`, dataset: { photoId: photo.id } },
    h(
      'div',
      { class: 'photo-thumb' },
      h('img', {
        src: localUrl.get(photo.id) || photo.thumbnail,
        alt: name,
        loading: 'lazy',
        // The browser could not show the local file (HEIC, TIFF): the server's thumbnail can.
        onerror: (e) => {
          if (localUrl.has(photo.id) && photo.thumbnail) {
            localUrl.delete(photo.id);
            e.currentTarget.src = photo.thumbnail;
          } else noPreview(e);
        },
      }),
    ),
    h(
      'div',
      { class: 'photo-body' },
      h(
        'div',
        { class: 'photo-badges' },
        badge(v.tone, v.label),
        view ? h('span', { class: 'muted small' }, view) : null,
      ),
      h('p', { class: 'photo-name' }, name),
      photo.advice ? h('p', { class: 'photo-advice' }, photo.advice) : null,
      h(
        'button',
        { type: 'button', class: 'btn-link', onclick: (e) => remove(photo, e.currentTarget) },
        h('span', {}, 'Remove'),
        h('span', { class: 'sr-only' }, ` ${name}`),
      ),
    ),
  );
}

function renderSet() {
  const box = $('#set-summary');
  const s = state.set;
  if (!state.photos.length) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const usable = usableCount();
  const total = state.photos.length;
  $('#set-usable').textContent =
    usable === 0
      ? 'None of these photos can be used yet. The advice next to each says why.'
      : `${plural(usable, 'usable photo')} of ${total}.${usable < 5 ? ' Five or more give the most reliable likeness check.' : ''}`;
  // Hints ("add a three-quarter view") and set-wide advice, without repeats.
  const seen = new Set();
  const lines = [...((s && s.hints) || []), ...((s && s.advice) || [])].filter((t) => {
    const k = String(t)
      .toLowerCase()
      .replace(/[.\s]+$/, '');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  replace(
    $('#set-hints'),
    lines.map((t) => h('li', {}, capitalise(t))),
  );
}

function capitalise(s) {
  s = String(s);
  return s.charAt(0).toUpperCase() + s.slice(1);
}
