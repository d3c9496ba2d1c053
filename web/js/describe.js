// Step 4: say what you want. The four layers (attire, setting, lighting,
// composition) and free text, a purpose, polish, count and size; a live
// preview of the plan (POST /api/plan, debounced) beside it; then the job.

import { api } from './api.js';
import { $, h, replace, debounce, clearErrors, setFieldError } from './dom.js';
import { state, set } from './state.js';
import * as portraits from './portraits.js';

let ctx;
let purposesLoaded = false;
let polishTouched = false; // until moved, the purpose's own polish is used
let planSeq = 0; // answers to older plan requests are ignored

const TEXT_FIELDS = ['prompt', 'attire', 'setting', 'lighting', 'composition'];

export function init(context) {
  ctx = context;
  const form = $('#form-job');
  const schedule = debounce(updatePlan, 350);

  form.addEventListener('input', (e) => {
    if (e.target.name === 'polish') {
      polishTouched = true;
      showPolish();
    }
    if (e.target.name === 'count') return; // the plan does not depend on it
    // Shown, not announced: the live region speaks once the plan is back.
    $('#plan').classList.add('is-updating');
    schedule();
  });
  form.addEventListener('change', (e) => {
    if (e.target.name === 'purpose') {
      showPurpose();
      schedule();
    }
  });
  form.addEventListener('submit', submit);
}

export async function enter() {
  if (!purposesLoaded) await loadPurposes();
  applyConsentToUse();
  updatePlan();
}

async function loadPurposes() {
  const select = $('#job-purpose');
  try {
    const { purposes = [] } = await api.purposes();
    set({ purposes });
    replace(
      select,
      purposes.map((p) => h('option', { value: p.name }, p.title || p.name)),
    );
    purposesLoaded = true;
    showPurpose();
  } catch (err) {
    replace(select, h('option', { value: '' }, 'The studio’s default'));
    $('#job-purpose-desc').textContent = `The purposes could not be loaded: ${err.message}`;
  }
}

function currentPurpose() {
  return state.purposes.find((p) => p.name === $('#job-purpose').value);
}

function showPurpose() {
  const p = currentPurpose();
  $('#job-purpose-desc').textContent = p ? p.description || '' : '';
  // The purpose says whether its portraits are personal or commercial.
  if (p && p.use) {
    const radio = $(`#form-job input[name=use][value="${p.use}"]`);
    if (radio && !radio.disabled) radio.checked = true;
  }
}

/** Only the uses the person consented to can be chosen. */
function applyConsentToUse() {
  const allowed = new Set((state.subject && state.subject.consent && state.subject.consent.uses) || ['personal']);
  const radios = [...document.querySelectorAll('#form-job input[name=use]')];
  for (const r of radios) r.disabled = !allowed.has(r.value);
  if (!radios.some((r) => r.checked && !r.disabled)) {
    const first = radios.find((r) => !r.disabled);
    if (first) first.checked = true;
  }
  $('#job-use-hint').textContent = allowed.has('commercial')
    ? ''
    : `${state.subject ? state.subject.name : 'The person'} consented to personal use only.`;
}

function showPolish() {
  const v = Number($('#job-polish').value);
  const words =
    v < 0.05 ? 'untouched' : v < 0.3 ? 'light' : v < 0.6 ? 'moderate' : v < 0.85 ? 'polished' : 'most polished';
  $('#job-polish-value').textContent =
    `${Math.round(v * 100)}% · ${words}${polishTouched ? '' : ' (the purpose’s choice)'}`;
}

/** The words and purpose: the plan's request, and the job's with params(). */
function body() {
  const form = $('#form-job');
  const b = {};
  for (const k of TEXT_FIELDS) {
    const v = form.elements[k].value.trim();
    if (v) b[k] = v;
  }
  if (form.elements.purpose.value) b.purpose = form.elements.purpose.value;
  return b;
}

/** Stage parameters from the controls: {"retouch": {"polish"}, "frame": {"width", "height"}}. */
function params() {
  const form = $('#form-job');
  const params = {};
  if (polishTouched) params.retouch = { polish: Number(form.elements.polish.value) };
  const size = form.elements.size.value;
  if (size) {
    const [width, height] = size.split('x').map(Number);
    params.frame = { width, height };
  }
  return params;
}

// ---- The plan preview -------------------------------------------------------

async function updatePlan() {
  const seq = ++planSeq;
  const status = $('#plan-status');
  try {
    const plan = await api.plan(body());
    if (seq !== planSeq) return;
    renderPlan(plan);
    const wont = (plan.refused || []).length + (plan.not_applied || []).length + (plan.not_understood || []).length;
    status.textContent = `The plan is up to date${wont ? `: ${wont} thing${wont === 1 ? '' : 's'} we will not do` : ''}.`;
    $('#plan').classList.remove('is-updating');
    clearErrors($('#form-job'));
  } catch (err) {
    if (seq !== planSeq || err.status === 401) return;
    status.textContent = '';
    $('#plan').classList.remove('is-updating');
    setFieldError($('#form-job'), err.param && TEXT_FIELDS.includes(err.param) ? err.param : 'prompt', err.message);
  }
}

function renderPlan(plan) {
  // What we will do: the plan's summary (else what it applied). Phrases
  // quoted from the reader's words are gathered on one line.
  const items = plan.summary && plan.summary.length ? plan.summary : plan.applied || [];
  const fromWords = items.filter((a) => /^['‘“].*['’”]$/.test(a));
  const will = items.filter((a) => !fromWords.includes(a)).map((a) => h('li', {}, plainApplied(a)));
  if (fromWords.length) will.push(h('li', {}, 'From your words: ', fromWords.map(quote).join(', ')));
  if (!will.length) will.push(h('li', { class: 'muted' }, 'The purpose’s look, as it is.'));
  replace($('#plan-will'), will);

  // What we will not do, and why.
  const wont = [];
  for (const r of plan.refused || [])
    wont.push(h('li', { class: 'refused' }, h('strong', {}, quote(r.phrase)), ' — ', r.why || 'we do not do this.'));
  for (const n of plan.not_applied || []) wont.push(h('li', {}, notApplied(n)));
  const nu = plan.not_understood || [];
  if (nu.length)
    wont.push(h('li', {}, `We did not understand ${nu.map(quote).join(', ')}. Try other words, or leave it out.`));
  if (!wont.length) wont.push(h('li', { class: 'muted' }, 'Nothing — we understood all of it.'));
  replace($('#plan-wont'), wont);

  // Unless the reader moved the slider, show the polish the purpose uses.
  if (!polishTouched && plan.recipe) {
    const polish = recipeParam(plan.recipe, 'retouch', 'polish');
    if (typeof polish === 'number') $('#job-polish').value = String(polish);
  }
  showPolish();
}

/** "purpose 'corporate' preset (data/purposes/corporate.json)" → "The Corporate look" */
function plainApplied(text) {
  const m = /^purpose '([^']+)' preset/.exec(text);
  if (m) {
    const p = state.purposes.find((x) => x.name === m[1]);
    return `The ${p ? p.title || p.name : m[1]} look: ${p && p.description ? lowerFirst(p.description) : 'its backdrop, light and polish'}`;
  }
  // Drop parentheses that only name a file of the installation.
  return capitalise(String(text).replace(/\s*\([^)]*\.json\)/g, ''));
}

function lowerFirst(s) {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** "'blurry': of what? (a backdrop)" → "“blurry”: of what? (a backdrop)" */
function notApplied(text) {
  const m = /^'([^']*)'(.*)$/.exec(text);
  return m ? `${quote(m[1])}${m[2]}` : text;
}

function recipeParam(recipe, stage, param) {
  const step = (recipe.steps || []).find((s) => s.stage === stage);
  return step && step.params ? step.params[param] : undefined;
}

function quote(s) {
  return `“${String(s).replace(/^['‘“]|['’”]$/g, '')}”`;
}

function capitalise(s) {
  s = String(s);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// ---- Submit -----------------------------------------------------------------

async function submit(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const count = Number(form.elements.count.value);
  if (!Number.isInteger(count) || count < 1 || count > 12) {
    setFieldError(form, 'count', 'Choose from 1 to 12 portraits.');
    form.elements.count.focus();
    return;
  }
  const use = form.querySelector('input[name=use]:checked');
  const job = { subject: state.subject.id, ...body(), count, use: use ? use.value : 'personal' };
  const p = params();
  if (Object.keys(p).length) job.params = p;

  const button = $('#job-submit');
  button.disabled = true;
  try {
    // One key per click: a retried request (a double submit, a flaky network)
    // gets the same job back instead of a second one.
    const created = await api.createJob(job, crypto.randomUUID());
    portraits.track(created, job);
    ctx.go('studio', 'portraits');
  } catch (err) {
    let message = err.message;
    if (err.code === 'queue_full')
      message = `The studio is busy right now. Please try again${err.retryAfter ? ` in ${err.retryAfter} seconds` : ' shortly'}.`;
    const key = err.param && form.elements.namedItem(err.param) ? err.param : 'form';
    setFieldError(form, key, message);
    if (err.code === 'no_consent') {
      const slot = form.querySelector('[data-error-for="form"]');
      slot.append(' ', h('a', { href: '#/studio/consent' }, 'Review consent'));
    }
  } finally {
    button.disabled = false;
  }
}
