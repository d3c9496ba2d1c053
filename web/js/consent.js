// Step 2: consent, in plain language, before any photo is uploaded.

import { api } from './api.js';
import { $, h, replace, clearErrors, setFieldError, formatDate } from './dom.js';
import { state, set, consentValid } from './state.js';

let ctx;
let textLoaded = false;

const USE_WORDS = { personal: 'personal use', commercial: 'commercial use' };

export function init(context) {
  ctx = context;
  $('#form-consent').addEventListener('submit', submit);
}

export async function enter() {
  const form = $('#form-consent');
  clearErrors(form);
  if (state.subject && !form.elements.given_by.value) form.elements.given_by.value = state.subject.name;
  renderCurrent();
  if (!textLoaded) {
    try {
      const t = await api.consentText();
      // The text is plain; keep its paragraphs.
      replace(
        $('#consent-text'),
        String(t.text || '')
          .split(/\n\s*\n/)
          .map((p) => h('p', {}, p.trim())),
      );
      $('#consent-version').textContent = t.version ? `(version ${t.version})` : '';
      textLoaded = true;
    } catch (err) {
      replace($('#consent-text'), h('p', { class: 'error' }, `The consent text could not be loaded: ${err.message}`));
    }
  }
}

/** If consent is already on record, say what it covers and offer to go on. */
function renderCurrent() {
  const box = $('#consent-current');
  const c = state.subject && state.subject.consent;
  if (!c || !consentValid()) {
    box.hidden = !c;
    if (c) replace(box, h('p', {}, 'The earlier consent was withdrawn or has expired. Please give it again to go on.'));
    $('#form-consent').querySelector('button[type=submit]').textContent = 'Give consent';
    return;
  }
  box.hidden = false;
  replace(
    box,
    h('p', { class: 'consent-ok' }, h('strong', {}, 'Consent is on record. '), consentSentence(c)),
    h(
      'button',
      { type: 'button', class: 'btn btn-primary', onclick: () => ctx.go('studio', 'photos') },
      'Continue to photos',
    ),
  );
  $('#form-consent').querySelector('button[type=submit]').textContent = 'Replace it with this consent';
}

export function consentSentence(c) {
  const uses = (c.uses || []).map((u) => USE_WORDS[u] || u).join(' and ') || 'personal use';
  const by = c.given_by ? `Given by ${c.given_by}` : 'Given';
  const when = c.granted_at ? ` on ${formatDate(c.granted_at)}` : '';
  const until = c.retention_until ? `; everything is deleted on ${formatDate(c.retention_until)}` : '';
  return `${by}${when}, for ${uses}${until}.`;
}

async function submit(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const givenBy = form.elements.given_by.value.trim();
  const uses = [...form.querySelectorAll('input[name=uses]:checked')].map((i) => i.value);
  const days = Number(form.elements.retention_days.value);

  if (!givenBy) return fail(form, 'given_by', 'Please say who is giving consent.');
  if (!uses.length) return fail(form, 'uses', 'Choose at least one use the portraits may have.');
  if (!Number.isInteger(days) || days < 1 || days > 1095)
    return fail(form, 'retention_days', 'Choose a whole number of days from 1 to 1095.');
  if (!form.elements.agree.checked) return fail(form, 'agree', 'Please read the text and tick the box to agree.');

  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const record = await api.giveConsent(state.subject.id, {
      given_by: givenBy,
      purposes: ['portraits', 'likeness'],
      uses,
      retention_days: days,
    });
    set({ subject: { ...state.subject, consent: record } });
    form.elements.agree.checked = false;
    ctx.go('studio', 'photos');
  } catch (err) {
    const key = { retention: 'retention_days', given_by: 'given_by', uses: 'uses' }[err.param] || err.param || 'form';
    fail(form, key, err.message);
  } finally {
    button.disabled = false;
  }
}

function fail(form, key, message) {
  setFieldError(form, key, message);
  const field = form.elements.namedItem(key);
  const target = field instanceof RadioNodeList ? field[0] : field;
  (target || form.querySelector('button[type=submit]')).focus();
}
