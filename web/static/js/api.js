// The console's only way to the server: the public REST gateway, with the
// signed-in user's access token in the Authorization header. Tokens live in
// this tab's sessionStorage (never in a URL, never logged): a reload keeps
// the session, closing the tab ends it, and two tabs never share a refresh
// token, which is single use (a reused one ends the whole session family).

const STORE = 'ingestgate.session';
let session = load();
let refreshTimer = null;
let refreshing = null;
const signedOutHandlers = [];

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return s && s.access && s.refresh ? s : null;
  } catch {
    return null;
  }
}

function save(tokens) {
  const now = Date.now();
  session = {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    accessExp: now + (tokens.expires_in || 0) * 1000,
    refreshExp: now + (tokens.refresh_expires_in || 0) * 1000,
  };
  sessionStorage.setItem(STORE, JSON.stringify(session));
  schedule();
}

function forget() {
  session = null;
  sessionStorage.removeItem(STORE);
  clearTimeout(refreshTimer);
}

// schedule refreshes the token pair when 80% of the access token's life has
// passed (at least 5 s from now), so a page left open stays signed in.
function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const left = session.accessExp - Date.now();
  const wait = Math.max(5000, left * 0.8);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
}

export function signedIn() {
  return session !== null && session.refreshExp > Date.now();
}

// onSignedOut registers a handler for the session ending on its own (a
// refused or expired token), with a message saying why.
export function onSignedOut(fn) {
  signedOutHandlers.push(fn);
}

function endSession(message) {
  const had = session !== null;
  forget();
  if (had) signedOutHandlers.forEach((fn) => fn(message));
}

// ApiError is a refused call: the HTTP status, the gRPC code name, the
// server's message and, for 429, how many seconds to wait.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// plain says what went wrong in words an operator can act on.
export function plain(err) {
  if (!(err instanceof ApiError)) {
    if (err && err.name === 'AbortError') return 'Cancelled.';
    return 'The server could not be reached. Check your connection and try again.';
  }
  const msg = err.message || '';
  switch (err.status) {
    case 401:
      return 'Your session has ended. Sign in again.';
    case 403:
      return `You do not have permission to do this. ${msg}`;
    case 404:
      return `Not found: ${msg}`;
    case 429:
      return err.retryAfter
        ? `Too many requests. Try again in ${err.retryAfter} s.`
        : 'Too many requests. Wait a moment and try again.';
    default:
      if (err.status >= 500) return `The server had a problem: ${msg || `HTTP ${err.status}`}`;
      return msg || `Request failed (HTTP ${err.status}).`;
  }
}

async function errorOf(res) {
  let code = '';
  let message = '';
  try {
    const body = await res.json();
    message = body.message || '';
    code = body.code;
  } catch {
    message = res.statusText;
  }
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  return new ApiError(res.status, code, message, Number.isFinite(ra) ? ra : 0);
}

async function send(method, path, body, signal, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: 'omit',
    cache: 'no-store',
  });
}

export async function login(email, password) {
  const res = await send('POST', '/v1/auth/login', { email, password });
  if (!res.ok) throw await errorOf(res);
  save(await res.json());
}

// refresh trades the refresh token for a new pair. Concurrent callers share
// one exchange: a refresh token works once.
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, 16, 'not signed in', 0));
  if (!refreshing) {
    const token = session.refresh;
    refreshing = (async () => {
      try {
        const res = await send('POST', '/v1/auth/refresh', { refresh_token: token });
        if (!res.ok) {
          const err = await errorOf(res);
          if (err.status === 401) endSession('Your session has ended. Sign in again.');
          throw err;
        }
        save(await res.json());
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

export async function logout() {
  const s = session;
  forget();
  if (s) {
    // Ends the refresh token's family on the server; the access token runs
    // out on its own (at most its lifetime).
    await send('POST', '/v1/auth/logout', { refresh_token: s.refresh }, undefined, s.access).catch(() => {});
  }
}

// api calls the REST gateway and returns the decoded JSON body. An expired
// access token is refreshed once and the call repeated.
export async function api(method, path, body, signal) {
  if (!session) throw new ApiError(401, 16, 'not signed in', 0);
  let res = await send(method, path, body, signal, session.access);
  if (res.status === 401 && session) {
    await refresh();
    res = await send(method, path, body, signal, session.access);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (err.status === 401) endSession('Your session has ended. Sign in again.');
    throw err;
  }
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

// watch reads a server stream of the gateway (newline-delimited JSON, each
// line {"result": …} or {"error": …}) and calls onItem for each result until
// the stream ends, fails, or signal aborts.
export async function watch(path, signal, onItem) {
  if (!session) throw new ApiError(401, 16, 'not signed in', 0);
  let res = await send('GET', path, undefined, signal, session.access);
  if (res.status === 401 && session) {
    await refresh();
    res = await send('GET', path, undefined, signal, session.access);
  }
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      if (msg.error) throw new ApiError(200, msg.error.code, msg.error.message, 0);
      onItem(msg.result);
    }
  }
}

// all follows next_page_token until the list ends or max items are read.
export async function all(path, field, max) {
  const out = [];
  let token = '';
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page = await api('GET', `${path}${sep}page_size=500${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    out.push(...(page[field] || []));
    token = page.next_page_token || '';
  } while (token && out.length < (max || 5000));
  return out;
}

// q builds a query string from the set values of params.
export function q(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;

schedule();
