// Words for the reader: the API's codes and stage names in plain language.
import { h } from './dom.js';

export const VERDICT = {
  good: { label: 'Good', tone: 'good', note: 'A great reference.' },
  usable: { label: 'Usable', tone: 'warn', note: 'It helps, but is not ideal.' },
  reject: { label: 'Not used', tone: 'bad', note: 'We will not use this photo.' },
};

export const RANK_VERDICT = {
  you: { label: 'Looks like you', tone: 'good' },
  doubtful: { label: 'Doubtful', tone: 'warn' },
  'not you': { label: 'Not you', tone: 'bad' },
};

// What each pipeline stage is doing, as a reader would say it.
export const STAGE = {
  queued: 'waiting for its turn',
  check: 'checking your photos',
  intake: 'checking your photos',
  faces: 'finding the face',
  segment: 'separating the person from the background',
  parse: 'mapping skin, hair and clothes',
  frame: 'framing',
  render: 'rendering at full size',
  matte: 'refining the edges',
  denoise: 'cleaning up noise',
  retouch: 'retouching skin',
  wardrobe: 'recolouring clothes',
  backdrop: 'placing the backdrop',
  relight: 'relighting',
  grade: 'colour grading',
  grain: 'adding grain',
  export: 'saving and signing',
  likeness: 'checking it still looks like you',
  choose: 'choosing the best',
  sheet: 'making the contact sheet',
  write: 'saving the portraits',
  done: 'finishing',
};

export function stageWords(stage) {
  if (!stage) return '';
  return STAGE[stage] || String(stage).replace(/[_-]+/g, ' ');
}

export const JOB_STATE = {
  queued: 'Waiting to start',
  running: 'Working',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** A coloured badge whose meaning is in its text, never in colour alone. */
export function badge(tone, label, extra) {
  return h('span', { class: `badge badge-${tone}` }, label, extra ? h('span', { class: 'badge-extra' }, extra) : null);
}

/** The likeness of an output as a badge: passed or not, with the score. */
export function likenessBadge(likeness) {
  if (!likeness) return badge('neutral', 'Likeness not measured');
  const raw = typeof likeness.raw === 'number' ? likeness.raw.toFixed(2) : null;
  const passed = likeness.passed !== false;
  const title = raw
    ? `Similarity to your own photos ${raw}${likeness.gate ? ` (needs ${Number(likeness.gate).toFixed(2)})` : ''}`
    : undefined;
  const el = passed ? badge('good', 'Looks like you', raw) : badge('warn', 'Less like you', raw);
  if (title) el.title = title;
  return el;
}

/** A byte count for people: "40 MB". */
export function bytes(n) {
  if (!n && n !== 0) return '';
  if (n >= 1e9) return `${Math.round(n / 1e8) / 10} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e5) / 10} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e2) / 10} kB`;
  return `${n} bytes`;
}
