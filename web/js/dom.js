// Small DOM helpers. The page never uses innerHTML: every element is built
// with h(), so text from the API can never become markup, and the strict CSP
// (no inline styles) is kept by construction.

/**
 * Build an element.
 *   h('a', {href: '/x', class: 'btn', onclick: fn}, 'text', childNode, [more])
 * Attributes: `class`, `text`, `on<event>` (a listener), `dataset` (object),
 * booleans (true → present, false/null/undefined → absent), anything else via
 * setAttribute. Children: strings, nodes, arrays of them; null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Put text into a live region; clearing first makes screen readers repeat an identical message. */
export function announce(region, text) {
  region.textContent = '';
  // A microtask is not enough for some screen readers; a short timeout is.
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** Trailing-edge debounce. */
export function debounce(fn, ms) {
  let timer = 0;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** "1 photo", "3 photos". */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A date from the API (ISO 8601) in the reader's own words: "2 January 2027". */
export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

/**
 * Make a region accept dropped files and call onFiles(File[]).
 * The file <input> inside it stays the keyboard path; the drop is a shortcut.
 */
export function dropTarget(zone, input, onFiles) {
  let depth = 0; // dragenter/leave fire for every child; count them
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth += 1;
    zone.classList.add('is-over');
  });
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('is-over');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('is-over');
    const files = [...(e.dataTransfer?.files || [])];
    if (files.length) onFiles(files);
  });
  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = ''; // choosing the same file again fires change again
    if (files.length) onFiles(files);
  });
}

function hasFiles(e) {
  return [...(e.dataTransfer?.types || [])].includes('Files');
}

/** Show an error message in the [data-error-for=key] slot of a form (or clear it with ''). */
export function setFieldError(form, key, message) {
  const slot = form.querySelector(`[data-error-for="${key}"]`) || form.querySelector('[data-error-for="form"]');
  if (slot) slot.textContent = message || '';
  // Mark the field itself so it is announced as invalid and styled.
  const field = form.elements?.namedItem?.(key);
  const fields = field instanceof RadioNodeList ? [...field] : field ? [field] : [];
  for (const f of fields) {
    if (message) f.setAttribute('aria-invalid', 'true');
    else f.removeAttribute('aria-invalid');
  }
  return slot;
}

/** Clear every error slot of a form. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
}
