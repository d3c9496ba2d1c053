// Step 1: choose or add the person the portraits are of; and the
// "delete everything about this person" action with its confirmation.

import { api } from './api.js';
import { $, h, replace, announce, plural, clearErrors, setFieldError } from './dom.js';
import { state, set, consentValid } from './state.js';
import { bytes } from './labels.js';

let ctx;

export function init(context) {
  ctx = context;

  $('#form-subject').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearErrors(form);
    const name = form.elements.name.value.trim();
    if (!name) {
      setFieldError(form, 'name', 'Please enter their name.');
      form.elements.name.focus();
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const subject = await api.createSubject(name);
      form.reset();
      $('#deleted-note').hidden = true;
      await choose(subject.id, { subject });
    } catch (err) {
      setFieldError(
        form,
        err.param || 'form',
        err.code === 'conflict' ? `You already have someone called “${name}”.` : err.message,
      );
      form.elements.name.focus();
    } finally {
      button.disabled = false;
    }
  });

  $('#switch-person').addEventListener('click', () => ctx.go('studio', 'person'));
  initForget();
}

/** Entering the step: list the user's people. */
export async function enter() {
  const list = $('#subject-list');
  try {
    const { subjects = [] } = await api.subjects();
    $('#subject-list-wrap').hidden = subjects.length === 0;
    $('#new-subject-title').textContent = subjects.length ? 'Someone new' : 'Add the first person';
    replace(
      list,
      subjects.map((s) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: `subject-item${state.subject && state.subject.id === s.id ? ' is-current' : ''}`,
              onclick: () => choose(s.id),
            },
            h('span', { class: 'subject-avatar', 'aria-hidden': 'true' }, initials(s.name)),
            h(
              'span',
              { class: 'subject-text' },
              h('strong', {}, s.name),
              h('span', { class: 'muted' }, describeSubject(s)),
            ),
            h('span', { class: 'subject-go', 'aria-hidden': 'true' }, '→'),
          ),
        ),
      ),
    );
  } catch (err) {
    if (err.status !== 401) replace(list, h('li', { class: 'error' }, err.message));
  }
}

function describeSubject(s) {
  const parts = [plural(s.photos || 0, 'photo')];
  parts.push(consentValid(s) ? 'consent given' : 'needs consent');
  return parts.join(' · ');
}

function initials(name) {
  return (
    String(name)
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0].toUpperCase())
      .join('') || '?'
  );
}

/**
 * Make a person the current one: load them and their photos, then (unless
 * navigate is false) go to the step they are at.
 */
export async function choose(id, { navigate = true, subject = null } = {}) {
  const s = subject && subject.consent !== undefined ? subject : await api.subject(id);
  let photos = [];
  let photoSet = null;
  if (consentValid(s)) {
    try {
      const res = await api.photos(id);
      photos = res.photos || [];
      photoSet = res.set || null;
    } catch {
      /* shown on the photos step when it loads again */
    }
  }
  set({ subject: s, photos, set: photoSet });
  if (navigate) ctx.go('studio');
}

/** Reload the current person (after consent, uploads...). */
export async function refresh() {
  if (!state.subject) return;
  const s = await api.subject(state.subject.id);
  set({ subject: s });
}

// ---- Delete everything about the person ------------------------------------

function initForget() {
  const dialog = $('#forget-dialog');
  const form = $('#forget-form');

  $('#forget-open').addEventListener('click', () => {
    if (!state.subject) return;
    clearErrors(form);
    $('#forget-name').textContent = state.subject.name;
    for (const el of form.querySelectorAll('.forget-name-inline')) el.textContent = state.subject.name;
    $('#forget-confirm').textContent = `Delete everything about ${state.subject.name}`;
    dialog.showModal();
  });

  // "Keep everything" closes the dialog through method=dialog. The delete
  // button is handled here instead so an error can be shown in the dialog.
  $('#forget-confirm').addEventListener('click', async (e) => {
    e.preventDefault();
    const s = state.subject;
    if (!s) return dialog.close();
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const res = await api.forget(s.id);
      dialog.close();
      set({ subject: null, photos: [], set: null });
      const note = $('#deleted-note');
      replace(
        note,
        h('h3', {}, `Everything about ${s.name} is deleted.`),
        h('p', {}, describeDeleted(res && res.deleted)),
      );
      note.hidden = false;
      ctx.go('studio', 'person');
      announce($('#announcer'), `Everything about ${s.name} is deleted.`);
    } catch (err) {
      setFieldError(form, 'form', err.message);
    } finally {
      button.disabled = false;
    }
  });
}

// Words for the keys of the "deleted" summary; anything else is shown as is.
const DELETED_WORDS = {
  consent: ['consent record', 'consent records'],
  consents: ['consent record', 'consent records'],
  consent_records: ['consent record', 'consent records'],
  photos: ['photo', 'photos'],
  photo_digests: ['photo record', 'photo records'],
  analyses: ['analysis of the photos', 'analyses of the photos'],
  embeddings: ['set of face data', 'sets of face data'],
  jobs: ['job', 'jobs'],
  unfinished_jobs: ['unfinished job', 'unfinished jobs'],
  outputs: ['portrait file', 'portrait files'],
  portraits: ['portrait', 'portraits'],
  files: ['file of photos and face data', 'files of photos and face data'],
  service_files: ['other file', 'other files'],
  rankings: ['ranking', 'rankings'],
  subjects: ['entry in your list of people', 'entries in your list of people'],
};

/**
 * The API's account of a deletion in a sentence:
 * {"consent_records": 1, "photo_digests": 3, "outputs": [...], "kept": [...]}
 * → "What went: 1 consent record, 3 photo records, 9 portrait files."
 * Files kept (changed since likeness wrote them) are named, not hidden.
 */
export function describeDeleted(deleted) {
  if (!deleted || typeof deleted !== 'object') return 'Nothing about them is kept any more.';
  const parts = [];
  let size = '';
  let kept = [];
  for (const [key, value] of Object.entries(deleted)) {
    if (key === 'subject' || key === 'id' || key === 'name') continue;
    if (key === 'bytes') {
      size = bytes(value);
      continue;
    }
    if (key === 'kept') {
      kept = Array.isArray(value) ? value : [];
      continue;
    }
    const n = Array.isArray(value) ? value.length : typeof value === 'number' ? value : value ? 1 : 0;
    if (!n) continue;
    const [one, many] = DELETED_WORDS[key] || [key.replace(/_/g, ' '), key.replace(/_/g, ' ')];
    parts.push(`${n} ${n === 1 ? one : many}`);
  }
  let text = parts.length
    ? `What went: ${parts.join(', ')}${size ? ` (${size} in all)` : ''}. Nothing about them is kept any more.`
    : 'Nothing about them is kept any more.';
  if (kept.length) {
    const names = kept.map((k) => String(k).split('/').pop()).join('; ');
    text = `${parts.length ? `What went: ${parts.join(', ')}. ` : ''}${plural(kept.length, 'file was', 'files were')} not deleted because ${kept.length === 1 ? 'it' : 'they'} changed after likeness wrote ${kept.length === 1 ? 'it' : 'them'}: ${names}. Delete ${kept.length === 1 ? 'it' : 'them'} yourself if you want ${kept.length === 1 ? 'it' : 'them'} gone.`;
  }
  return text;
}
