// The provenance panel: any file to POST /api/verify, and what its Content
// Credentials (C2PA manifest) say, in plain language.

import { api } from './api.js';
import { $, h, replace, announce, dropTarget } from './dom.js';

export function init() {
  dropTarget($('#verify-drop'), $('#verify-input'), (files) => verify(files[0]));
}

export function enter() {}

async function verify(file) {
  const status = $('#verify-status');
  const out = $('#verify-result');
  $('#verify-error').textContent = '';
  out.hidden = true;
  announce(status, `Reading ${file.name}…`);
  try {
    const v = await api.verify(file);
    render(file, normalise(v));
    out.hidden = false;
    announce(status, `${file.name}: ${headline(normalise(v)).title}`);
  } catch (err) {
    status.textContent = '';
    // 422 here means there is no manifest at all (or not an image).
    $('#verify-error').textContent = err.status === 422 ? `${file.name}: ${err.message}` : err.message;
  }
}

/**
 * The contract's shape (docs/api.md: valid, signer, title, actions, usage,
 * consent_id, errors); `likeness verify --json`'s own names (state, manifest,
 * problems, usage.signed_*) are read too.
 */
function normalise(v) {
  const m = v.manifest || {};
  const usage = v.usage || {};
  const state = v.state || (v.valid === true ? 'valid' : v.valid === false ? 'invalid' : undefined);
  return {
    valid: v.valid === true || state === 'valid' || state === 'trusted',
    state,
    trusted: v.trusted,
    signer: v.signer || (m.signature_info && (m.signature_info.common_name || m.signature_info.issuer)) || '',
    none: state === 'no manifest',
    title: v.title || m.title || '',
    generator:
      (m.claim_generator_info && `${m.claim_generator_info.name} ${m.claim_generator_info.version || ''}`.trim()) || '',
    source: v.digital_source_type || '',
    actions: v.actions || m.actions || [],
    usage,
    consent: v.consent_id || usage.signed_consent_record || usage.model_release_id || '',
    errors: v.errors || v.problems || [],
  };
}

function headline(v) {
  if (v.none)
    return {
      tone: 'warn',
      title: 'No Content Credentials',
      text: 'This file carries no signed record, so nothing can be said about where it came from or what was done to it.',
    };
  const onlyTrust =
    v.errors.length > 0 && v.errors.every((e) => /untrusted|trust/i.test(String(e.code || e.message || e)));
  if (v.valid)
    return {
      tone: 'good',
      title: 'Unchanged since it was signed',
      text: 'The signature is valid and the picture is exactly what was signed.',
    };
  if (onlyTrust)
    return {
      tone: 'warn',
      title: 'Intact, signed by an unknown signer',
      text: 'The picture matches its signed record, but the signer is not one this studio was told to trust (a studio’s own key, for example).',
    };
  return {
    tone: 'bad',
    title: 'Not valid',
    text: 'The file was changed after it was signed, or its record is damaged.',
  };
}

// Words for the C2PA actions a portrait can carry.
const ACTION_WORDS = {
  'c2pa.opened': 'Opened the source photo',
  'c2pa.created': 'Created',
  'c2pa.filtered': 'Filtered',
  'c2pa.color_adjustments': 'Adjusted colour',
  'c2pa.edited': 'Edited',
  'c2pa.cropped': 'Cropped',
  'c2pa.resized': 'Resized',
  'c2pa.converted': 'Converted to another format',
  'c2pa.transcoded': 'Converted to another format',
};

function actionLine(a) {
  if (typeof a === 'string') return ACTION_WORDS[a] || a;
  // The signer's own description says it best ("Skin retouch: blemishes
  // healed..."); the action's name is the fallback.
  const desc = a.description || a.summary;
  return desc || ACTION_WORDS[a.action] || a.action || 'A change';
}

function usageLine(u) {
  if (!u || typeof u !== 'object') return '';
  if (u.usage_terms) return u.usage_terms;
  const uses = u.uses || u.signed_uses;
  return uses && uses.length ? `Permitted uses: ${uses.join(', ')}.` : '';
}

function render(file, v) {
  const head = headline(v);
  const facts = v.none
    ? [['File', file.name]]
    : [
        ['File', file.name],
        v.title && v.title !== file.name ? ['Title in the record', v.title] : null,
        ['Signed by', signerWords(v)],
        ['What it is', sourceWords(v.source)],
        ['May be used for', usageLine(v.usage) || 'not stated'],
        ['Consent record', v.consent || 'none named'],
      ].filter(Boolean);
  replace(
    $('#verify-result'),
    h('div', { class: `verify-head tone-${head.tone}` }, h('h2', {}, head.title), h('p', {}, head.text)),
    h(
      'dl',
      { class: 'facts' },
      facts.map(([k, val]) => [h('dt', {}, k), h('dd', {}, val)]),
    ),
    v.actions.length
      ? h(
          'div',
          {},
          h('h3', {}, 'What was done to it'),
          h(
            'ol',
            { class: 'actions' },
            v.actions.map((a) => h('li', {}, actionLine(a))),
          ),
        )
      : null,
    v.errors.length
      ? h(
          'div',
          {},
          h('h3', {}, 'What the check found'),
          h(
            'ul',
            { class: 'problems' },
            v.errors.map((e) => h('li', {}, typeof e === 'string' ? e : e.message || e.code)),
          ),
        )
      : null,
  );
}

function signerWords(v) {
  if (v.signer) return v.signer;
  if (!v.generator) return 'not named';
  if (v.trusted === true) return `${v.generator}, with this studio’s own key (trusted)`;
  if (v.trusted === false) return `${v.generator}, with a key this studio does not know`;
  return v.generator;
}

function sourceWords(uri) {
  const kind = String(uri || '')
    .split('/')
    .pop();
  return (
    {
      compositeWithTrainedAlgorithmicMedia: 'A photo refined by software, parts replaced (the backdrop)',
      algorithmicallyEnhanced: 'A photo enhanced by software',
      digitalCapture: 'A camera photo',
      trainedAlgorithmicMedia: 'Made by a generative model',
      composite: 'A composite of pictures',
    }[kind] ||
    kind ||
    'not stated'
  );
}
