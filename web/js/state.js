// What the page knows right now, in one place, with change notifications.
// Modules read `state` directly and call set() to change it; listeners run
// after every set() that touched one of their keys.

export const state = {
  user: null, // {id, name}
  subject: null, // {id, name, consent, photos}
  photos: [], // Photo[] of the subject (docs/api.md)
  set: null, // Set of the subject's photos
  purposes: [], // [{name, title, description, use}]
};

const listeners = [];

/** on(['subject'], fn): fn(state) after any set() of those keys. */
export function on(keys, fn) {
  listeners.push({ keys: new Set(keys), fn });
}

export function set(patch) {
  Object.assign(state, patch);
  const changed = Object.keys(patch);
  for (const { keys, fn } of listeners) {
    if (changed.some((k) => keys.has(k))) fn(state);
  }
}

/** The subject's consent is on record, not withdrawn and not expired. */
export function consentValid(subject = state.subject) {
  const c = subject && subject.consent;
  if (!c) return false;
  if (c.valid === false || c.withdrawn_at) return false;
  if (c.retention_until && new Date(c.retention_until) < new Date()) return false;
  return true;
}

/** How many photos the intake found usable (the set's count, else counted). */
export function usableCount() {
  if (state.set && typeof state.set.usable === 'number') return state.set.usable;
  return state.photos.filter((p) => p.verdict === 'good' || p.verdict === 'usable').length;
}

// Remember the chosen person across a reload of the page (this tab only).
const KEY = 'likeness.subject';
export function rememberSubject(id) {
  try {
    if (id) sessionStorage.setItem(KEY, id);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage may be disabled; the page works without it */
  }
}
export function rememberedSubject() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
