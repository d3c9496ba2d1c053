// "Rank my headshots": headshots from anywhere against the person's own
// photos (POST /api/subjects/{id}/rank); nothing of them is kept.

import { api } from './api.js';
import { $, h, replace, announce, dropTarget, plural } from './dom.js';
import { state } from './state.js';
import { RANK_VERDICT, badge } from './labels.js';

const urls = []; // object URLs shown for the last ranking

export function init() {
  dropTarget($('#rank-drop'), $('#rank-input'), rank);
}

export function enter() {
  const ready = Boolean(state.subject) && state.photos.length > 0;
  $('#rank-needs-subject').hidden = ready;
  $('#rank-body').hidden = !ready;
}

async function rank(files) {
  if (!state.subject) return;
  const status = $('#rank-status');
  const list = $('#rank-list');
  $('#rank-error').textContent = '';
  replace(list);
  announce(status, `Comparing ${plural(files.length, 'headshot')} with ${state.subject.name}’s photos…`);
  $('#rank-drop').classList.add('is-busy');
  try {
    const { candidates = [] } = await api.rank(state.subject.id, files);
    const sorted = [...candidates].sort((a, b) => (a.rank || 0) - (b.rank || 0));
    // The API's thumbnail is a data: URL; without one, show the dropped file.
    const local = new Map(files.map((f) => [f.name, f]));
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    replace(
      list,
      sorted.map((c) => {
        let src = c.thumbnail;
        if (!src && local.has(baseName(c.name))) {
          src = URL.createObjectURL(local.get(baseName(c.name)));
          urls.push(src);
        }
        return candidate(c, src);
      }),
    );
    const you = sorted.filter((c) => c.verdict === 'you').length;
    announce(
      status,
      `${plural(you, 'headshot')} of ${sorted.length} look${you === 1 ? 's' : ''} like ${state.subject.name}. Best first below.`,
    );
  } catch (err) {
    status.textContent = '';
    $('#rank-error').textContent = err.file ? `${err.file}: ${err.message}` : err.message;
  } finally {
    $('#rank-drop').classList.remove('is-busy');
  }
}

function candidate(c, src) {
  const v = RANK_VERDICT[c.verdict] || { label: c.verdict || '—', tone: 'neutral' };
  const l = c.likeness || {};
  const raw = typeof l === 'number' ? l : l.raw;
  const facts = [];
  if (typeof raw === 'number') facts.push(`likeness ${raw.toFixed(2)}`);
  if (typeof c.quality === 'number') facts.push(`quality ${Math.round(c.quality * 100)}%`);
  if (c.error) facts.push(c.error); // this file could not be judged, and why
  const name = baseName(c.name || c.file || 'headshot');
  return h(
    'li',
    { class: `rank-item verdict-${String(c.verdict).replace(/\s+/g, '-')}` },
    h('span', { class: 'rank-pos', 'aria-hidden': 'true' }, `#${c.rank || ''}`),
    src ? h('img', { src, alt: name, class: 'rank-thumb' }) : h('span', { class: 'rank-thumb' }),
    h(
      'div',
      { class: 'rank-text' },
      badge(v.tone, v.label),
      h('p', { class: 'rank-name' }, h('span', { class: 'sr-only' }, `Rank ${c.rank}: `), name),
      h('p', { class: 'muted small' }, facts.join(' · ')),
    ),
  );
}

function baseName(p) {
  return String(p).split(/[\\/]/).pop();
}
