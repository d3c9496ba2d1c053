// likeness — the web page's entry point: sign-in, the views and the steps.
//
// Views: #/studio/<step> (the flow), #/rank, #/verify; the sign-in view is
// shown whenever there is no session. Each step is a <section> in
// index.html; its module (js/*.js) fills it and may say when the step
// is reachable.

import { api, setCsrf, setUnauthenticatedHandler } from './js/api.js';
import { $, $$, announce, clearErrors, setFieldError } from './js/dom.js';
import { state, set, on, consentValid, usableCount, rememberSubject, rememberedSubject } from './js/state.js';
import * as person from './js/person.js';
import * as consent from './js/consent.js';
import * as photos from './js/photos.js';
import * as describe from './js/describe.js';
import * as portraits from './js/portraits.js';
import * as rank from './js/rank.js';
import * as verify from './js/verify.js';

const STEPS = ['person', 'consent', 'photos', 'describe', 'portraits'];
const STEP_MODULES = { person, consent, photos, describe, portraits };
const VIEWS = ['auth', 'studio', 'rank', 'verify'];

/** May the reader open this step yet? (Consent comes before any photo.) */
function stepAllowed(step) {
  switch (step) {
    case 'person':
      return true;
    case 'consent':
      return Boolean(state.subject);
    case 'photos':
    case 'portraits':
      return Boolean(state.subject) && consentValid();
    case 'describe':
      return Boolean(state.subject) && consentValid() && usableCount() > 0;
    default:
      return false;
  }
}

/** The step a reader arriving at the studio should see. */
function naturalStep() {
  if (!state.subject) return 'person';
  if (!consentValid()) return 'consent';
  if (usableCount() === 0) return 'photos';
  return 'describe';
}

// ---- Routing --------------------------------------------------------------

let current = { view: null, step: null };
let firstRoute = true;

/** Go to a place: go('studio', 'photos'), go('verify'). Updates the address. */
export function go(view, step) {
  const hash = view === 'studio' ? `#/studio/${step || naturalStep()}` : `#/${view}`;
  if (location.hash !== hash)
    location.hash = hash; // → hashchange → route()
  else route();
}

function parseHash() {
  const [view, step] = location.hash.replace(/^#\/?/, '').split('/');
  return { view: VIEWS.includes(view) && view !== 'auth' ? view : 'studio', step: STEPS.includes(step) ? step : null };
}

function route() {
  if (!state.user) {
    show('auth');
    return;
  }
  let { view, step } = parseHash();
  if (view === 'studio') {
    if (!step || !stepAllowed(step)) {
      // The furthest allowed step up to the one asked for.
      const wanted = step ? STEPS.indexOf(step) : STEPS.indexOf(naturalStep());
      step =
        STEPS.slice(0, wanted + 1)
          .filter(stepAllowed)
          .pop() || 'person';
      history.replaceState(null, '', `#/studio/${step}`);
    }
  }
  show(view, step);
}

function show(view, step = null) {
  const changed = view !== current.view || step !== current.step;
  current = { view, step };
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
  $('#topnav').hidden = !state.user;
  $('#account').hidden = !state.user;
  for (const a of $$('#topnav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (view === 'studio') {
    for (const s of STEPS) $(`#step-${s}`).hidden = s !== step;
    renderStepper();
    if (changed) STEP_MODULES[step].enter?.();
  }
  if (view === 'rank' && changed) rank.enter();
  if (view === 'verify' && changed) verify.enter();

  // Move focus to the new content's heading so keyboard and screen-reader
  // users land where the page changed (not on first load: leave it at the top).
  if (changed && !firstRoute) {
    const heading = view === 'studio' ? $(`#step-${step} h2`) : view === 'auth' ? null : $(`#view-${view} h1`);
    if (heading) heading.focus({ preventScroll: false });
  }
  firstRoute = false;
}

function renderStepper() {
  const at = STEPS.indexOf(current.step);
  for (const btn of $$('.stepper button')) {
    const s = btn.dataset.step;
    const i = STEPS.indexOf(s);
    btn.disabled = !stepAllowed(s);
    btn.classList.toggle('is-done', i < at && stepAllowed(s));
    if (s === current.step) btn.setAttribute('aria-current', 'step');
    else btn.removeAttribute('aria-current');
  }
}

// ---- Person bar (who we are working on) ------------------------------------

function renderPersonBar() {
  const s = state.subject;
  $('#person-bar').hidden = !s;
  for (const el of $$('[data-subject-name]')) el.textContent = s ? s.name : el.dataset.subjectNameDefault;
  if (!s) return;
  $('#person-bar-name').textContent = s.name;
  $('#person-bar-consent').textContent = consentValid() ? '· consent given' : '· no consent yet';
}

// ---- Sign in / sign up ------------------------------------------------------

function initAuth() {
  const tabs = [$('#tab-signup'), $('#tab-signin')];
  const select = (tab, focus = true) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(`#${t.getAttribute('aria-controls')}`).hidden = !on;
    }
    if (focus) tab.focus();
  };
  for (const t of tabs) {
    t.addEventListener('click', () => select(t));
    // Arrow keys move between tabs (the ARIA tabs pattern).
    t.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(t);
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        select(tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]);
      }
    });
  }

  const submit = (form, call) =>
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const name = form.elements.name.value.trim();
      const password = form.elements.password.value;
      if (!name) return fieldError(form, 'name', 'Please enter your name.');
      if (form.id === 'form-signup' && password.length < 8)
        return fieldError(form, 'password', 'Your password needs at least 8 characters.');
      if (!password) return fieldError(form, 'password', 'Please enter your password.');
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const res = await call(name, password);
        form.reset();
        await signedIn(res);
      } catch (err) {
        let message = err.message;
        let key = err.param || 'form';
        if (err.status === 401) {
          message = 'That name and password do not match. Check them and try again.';
          key = 'password'; // shown under the password, which gets the focus
          form.elements.password.select();
        }
        if (err.code === 'conflict') {
          message = 'That name is taken. Sign in instead, or choose another name.';
          key = 'name';
        }
        fieldError(form, key, message);
      } finally {
        button.disabled = false;
      }
    });
  submit($('#form-signup'), api.signUp);
  submit($('#form-signin'), api.signIn);

  $('#sign-out').addEventListener('click', async () => {
    try {
      await api.signOut();
    } catch {
      /* signed out either way */
    }
    signedOut('You are signed out.');
  });

  // Show the sign-in tab (not sign-up) when the session ends.
  initAuth.selectSignIn = () => select(tabs[1], false);
}

/** Show a message next to the field it is about, and put focus there. */
function fieldError(form, key, message) {
  setFieldError(form, key, message);
  const field = form.elements.namedItem(key);
  (field && field.focus ? field : form.querySelector('input'))?.focus();
}

async function signedIn(res) {
  setCsrf(res.csrf);
  set({ user: res.user });
  $('#account-name').textContent = res.user.name;
  // A person chosen before a reload of this tab.
  const remembered = rememberedSubject();
  if (remembered && !state.subject) {
    try {
      await person.choose(remembered, { navigate: false });
    } catch {
      rememberSubject(null);
    }
  }
  if (location.hash.startsWith('#/') && location.hash.length > 2) route();
  else go('studio');
}

/** Back to sign-in. keepPlace: the session ended by itself, so come back to the same person. */
function signedOut(message, { keepPlace = false } = {}) {
  const subjectId = state.subject && state.subject.id;
  setCsrf('');
  set({ user: null, subject: null, photos: [], set: null });
  rememberSubject(keepPlace ? subjectId : null);
  portraits.stopAll();
  initAuth.selectSignIn();
  const form = $('#form-signin');
  setFieldError(form, 'form', '');
  if (message) announce($('#announcer'), message);
  route();
}

// ---- Start ------------------------------------------------------------------

async function start() {
  // Placeholders like "the person" come back when no one is chosen.
  for (const el of $$('[data-subject-name]')) el.dataset.subjectNameDefault = el.textContent;
  initAuth();
  setUnauthenticatedHandler(() => {
    if (!state.user) return;
    signedOut('', { keepPlace: true });
    setFieldError($('#form-signin'), 'form', 'Your session has ended. Please sign in again.');
  });

  const ctx = { go, route, renderStepper };
  person.init(ctx);
  consent.init(ctx);
  photos.init(ctx);
  describe.init(ctx);
  portraits.init(ctx);
  rank.init(ctx);
  verify.init(ctx);

  on(['subject', 'photos', 'set'], () => {
    renderPersonBar();
    if (current.view === 'studio') renderStepper();
  });
  on(['subject'], (s) => rememberSubject(s.subject && s.subject.id));

  for (const btn of $$('.stepper button')) btn.addEventListener('click', () => go('studio', btn.dataset.step));
  $('.brand').addEventListener('click', (e) => {
    e.preventDefault();
    go('studio');
  });
  window.addEventListener('hashchange', route);
  // Where the photos are kept, as the server says (a studio on several
  // machines keeps them in its own database, not on this computer).
  api
    .health()
    .then((h) => {
      if (h.store === 'shared')
        $('#where').textContent =
          "likeness runs on your studio's own servers. Your photos are kept there and go nowhere else.";
    })
    .catch(() => {});

  try {
    await signedIn(await api.session());
  } catch {
    route(); // no session: the sign-in view
  }
  document.documentElement.classList.add('is-ready');
}

start();
