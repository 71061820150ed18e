// The console shell: sign-in, navigation, the workspace switcher and the
// router. Routes live in the URL fragment (#/w/<workspace>/keys), so ids
// never reach server logs and a reload lands on the same page.
import { h, replace } from './dom.js';
import { api, all, enc, login, logout, onSignedOut, plain, signedIn } from './api.js';
import { failed, loading } from './ui.js';
import * as keys from './keys.js';
import * as keyDetail from './keydetail.js';
import * as devices from './devices.js';
import * as events from './events.js';
import * as apikeys from './apikeys.js';
import * as users from './users.js';

const app = document.getElementById('app');
let me = null; // GetCurrentPrincipal of the signed-in user
let workspaces = [];
let cleanup = null; // ends the current page's streams and timers
let signInNotice = '';

const pages = [
  { name: 'keys', label: 'Ingest keys', re: /^\/w\/([^/]+)\/keys$/, page: keys },
  { name: 'keys', label: null, re: /^\/w\/([^/]+)\/keys\/([^/]+)$/, page: keyDetail },
  { name: 'devices', label: 'Devices', re: /^\/w\/([^/]+)\/devices$/, page: devices },
  { name: 'events', label: 'Events', re: /^\/w\/([^/]+)\/events$/, page: events },
  { name: 'apikeys', label: 'API keys', re: /^\/w\/([^/]+)\/apikeys$/, page: apikeys, owner: true },
  { name: 'users', label: 'Users', re: /^\/w\/([^/]+)\/users$/, page: users, owner: true },
];

export function go(path) {
  if (location.hash !== `#${path}`) location.hash = path;
  else route();
}

function membership(ws) {
  return (me && me.memberships || []).find((m) => m.workspace_id === ws) || null;
}

// can reports whether the user holds perm in ws, so pages hide what would
// only be refused. The server checks every call regardless.
export function can(ws, perm) {
  const m = membership(ws);
  return !!m && (m.permissions || []).includes(perm);
}

export function isOwner(ws) {
  const m = membership(ws);
  return !!m && m.role === 'ROLE_OWNER';
}

export function currentUser() {
  return me;
}

function signInPage() {
  const email = h('input', { type: 'email', id: 'email', autocomplete: 'username', required: true, maxlength: 254 });
  const password = h('input', { type: 'password', id: 'password', autocomplete: 'current-password', required: true, maxlength: 256 });
  const err = h('p', { class: 'form-error', role: 'alert' }, signInNotice);
  signInNotice = '';
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'signin',
    'aria-labelledby': 'signin-title',
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      replace(err);
      try {
        await login(email.value, password.value);
        password.value = '';
        me = null;
        go('/');
      } catch (ex) {
        replace(err, ex.status === 401 ? 'Wrong email or password.' : plain(ex));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', { id: 'signin-title' }, 'ingestgate'),
  h('p', { class: 'muted' }, 'Sign in to manage ingest keys.'),
  h('div', { class: 'field' }, h('label', { for: 'email' }, 'Email'), email),
  h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
  err,
  submit);
  replace(app, h('main', { class: 'signin-wrap' }, form));
  email.focus();
}

function shell(ws, active) {
  const nav = h('nav', { 'aria-label': 'Main' },
    h('ul', {}, pages.filter((p) => p.label && (!p.owner || isOwner(ws))).map((p) =>
      h('li', {}, h('a', { href: `#/w/${enc(ws)}/${p.name}`, 'aria-current': p.name === active ? 'page' : false }, p.label)))));
  const picker = h('select', {
    id: 'workspace',
    onchange: () => go(`/w/${enc(picker.value)}/${active}`),
  }, workspaces.map((w) => h('option', { value: w.id, selected: w.id === ws }, w.display_name ? `${w.display_name} (${w.id})` : w.id)));
  const who = me && me.user ? me.user.email : '';
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(app,
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/' }, 'ingestgate'),
      h('div', { class: 'ws' }, h('label', { for: 'workspace' }, 'Workspace'), picker),
      nav,
      h('div', { class: 'who' },
        h('span', { class: 'muted', title: who }, who),
        h('button', {
          type: 'button',
          class: 'link',
          onclick: async () => {
            await logout();
            me = null;
            go('/signin');
          },
        }, 'Sign out'))),
    main);
  return main;
}

async function loadMe() {
  me = await api('GET', '/v1/auth/me');
  const known = new Map();
  try {
    for (const w of await all('/v1/workspaces', 'workspaces', 1000)) known.set(w.id, w);
  } catch {
    // Listing workspaces may need a permission the user lacks; the
    // memberships still name them.
  }
  workspaces = (me.memberships || []).map((m) => known.get(m.workspace_id) || { id: m.workspace_id });
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const path = decodeURI(location.hash.replace(/^#/, '')) || '/';
  if (!signedIn()) {
    if (path !== '/signin') {
      location.replace('#/signin');
      return;
    }
    signInPage();
    return;
  }
  if (!me) {
    replace(app, loading('your account'));
    try {
      await loadMe();
    } catch (err) {
      replace(app, failed(err, route));
      return;
    }
  }
  if (path === '/' || path === '/signin') {
    if (!workspaces.length) {
      replace(app, h('main', { class: 'signin-wrap' }, h('p', {}, 'Your account is not a member of any workspace. Ask an owner to add you.')));
      return;
    }
    location.replace(`#/w/${enc(workspaces[0].id)}/keys`);
    return;
  }
  for (const p of pages) {
    const m = path.match(p.re);
    if (!m) continue;
    const ws = decodeURIComponent(m[1]);
    if (!membership(ws)) break;
    const main = shell(ws, p.name);
    cleanup = p.page.render(main, { ws, can: (perm) => can(ws, perm), perms: membership(ws).permissions || [], owner: isOwner(ws), go }, m.slice(2).map(decodeURIComponent)) || null;
    main.focus({ preventScroll: true });
    return;
  }
  const main = shell(workspaces[0] ? workspaces[0].id : '', '');
  replace(main, h('div', { class: 'state' }, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the start page'))));
}

onSignedOut((message) => {
  me = null;
  signInNotice = message;
  go('/signin');
});
window.addEventListener('hashchange', route);
route();
