// The page's only door to the server (docs/api.md). Every call goes through
// request(): it sends the CSRF token on changes, turns the API's error body
// {"error": {"code", "message", ...}} into an ApiError with a plain-language
// message, and sends the reader back to sign-in on a 401.

let csrfToken = '';
let onUnauthenticated = () => {};

export function setCsrf(token) {
  csrfToken = token || '';
}

/** Called with the ApiError when a request answers 401 (the session ended). */
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const err = (body && body.error) || {};
    super(sentence(err.message || fallback || `The studio answered ${status}.`));
    this.status = status;
    this.code = err.code || (status === 0 ? 'network' : 'http');
    this.param = err.param; // usage errors: which parameter
    this.file = err.file; // bad_input: which file
    this.limit = err.limit; // too_large: the limit in bytes
    this.retryAfter = 0; // queue_full: seconds
    this.body = body;
  }
}

/** "a password has at least 8 characters" → "A password has at least 8 characters." */
function sentence(text) {
  const t = String(text).trim();
  // A message that starts with a file's name keeps it as it is.
  const first = t.split(/[\s:]/, 1)[0];
  const s = /[._\d/]/.test(first) ? t : t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…)]$/.test(s) ? s : `${s}.`;
}

// Messages for when the server gave no message of its own (or none at all).
const FALLBACK = {
  0: 'The studio cannot be reached. Check that it is running, then try again.',
  401: 'Please sign in again.',
  403: 'That is not allowed.',
  404: 'That is no longer there — it may have been deleted.',
  409: 'That clashes with something that already exists.',
  413: 'That is too large for the studio.',
  422: 'That file cannot be used.',
  429: 'The studio is busy. Please try again in a moment.',
  500: 'Something went wrong in the studio.',
};

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * request('POST', '/api/users', {json: {...}})
 * Options: json (a body to send as JSON), form (a FormData), headers,
 * quiet401 (do not run the sign-in handler: the sign-in form itself).
 * Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function request(method, path, { json, form, headers = {}, quiet401 = false } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (CHANGES.has(method) && csrfToken) init.headers['X-CSRF-Token'] = csrfToken;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form; // the browser sets multipart/form-data with its boundary
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, null, FALLBACK[0]);
  }
  return handle(res.status, res.headers.get('Retry-After'), await res.text(), quiet401);
}

function handle(status, retryAfter, text, quiet401) {
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (status >= 200 && status < 300) return body;
  const err = new ApiError(status, body, FALLBACK[status] || FALLBACK[Math.floor(status / 100) * 100]);
  if (retryAfter) err.retryAfter = Number(retryAfter) || 0;
  if (status === 401 && !quiet401) onUnauthenticated(err);
  throw err;
}

/**
 * Upload a FormData with progress (fetch cannot report upload progress).
 * onProgress(fraction 0..1) is called as bytes go out.
 */
export function upload(path, form, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      try {
        resolve(handle(xhr.status, xhr.getResponseHeader('Retry-After'), xhr.responseText, false));
      } catch (err) {
        reject(err);
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, null, FALLBACK[0])));
    xhr.send(form);
  });
}

// ---- The calls, named after what they do --------------------------------

const enc = encodeURIComponent;

export const api = {
  signUp: (name, password) => request('POST', '/api/users', { json: { name, password }, quiet401: true }),
  signIn: (name, password) => request('POST', '/api/session', { json: { name, password }, quiet401: true }),
  session: () => request('GET', '/api/session', { quiet401: true }),
  health: () => request('GET', '/api/health', { quiet401: true }),
  signOut: () => request('DELETE', '/api/session', { quiet401: true }),

  purposes: () => request('GET', '/api/purposes'),
  consentText: () => request('GET', '/api/consent-text'),
  plan: (body) => request('POST', '/api/plan', { json: body }),

  subjects: () => request('GET', '/api/subjects'),
  createSubject: (name) => request('POST', '/api/subjects', { json: { name } }),
  subject: (id) => request('GET', `/api/subjects/${enc(id)}`),
  forget: (id) => request('DELETE', `/api/subjects/${enc(id)}`),

  giveConsent: (id, body) => request('POST', `/api/subjects/${enc(id)}/consent`, { json: body }),

  photos: (id) => request('GET', `/api/subjects/${enc(id)}/photos`),
  uploadPhotos: (id, files, onProgress) => {
    const form = new FormData();
    for (const f of files) form.append('photos', f, f.name);
    return upload(`/api/subjects/${enc(id)}/photos`, form, onProgress);
  },
  deletePhoto: (photoId) => request('DELETE', `/api/photos/${enc(photoId)}`),

  createJob: (body, idempotencyKey) =>
    request('POST', '/api/jobs', { json: body, headers: { 'Idempotency-Key': idempotencyKey } }),
  jobs: (subjectId) => request('GET', `/api/jobs?subject=${enc(subjectId)}`),
  job: (id) => request('GET', `/api/jobs/${enc(id)}`),
  cancelJob: (id) => request('POST', `/api/jobs/${enc(id)}/cancel`),
  jobEventsUrl: (id) => `/api/jobs/${enc(id)}/events`,

  rank: (subjectId, files) => {
    const form = new FormData();
    for (const f of files) form.append('candidates', f, f.name);
    return request('POST', `/api/subjects/${enc(subjectId)}/rank`, { form });
  },
  verify: (file) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request('POST', '/api/verify', { form });
  },
};

/** A URL from the API with query parameters added (keeps any it already has). */
export function withQuery(url, params) {
  const u = new URL(url, location.origin);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.origin === location.origin ? u.pathname + u.search : u.href;
}
