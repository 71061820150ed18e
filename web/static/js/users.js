// Users of the workspace (owners): add a member, change a role, disable or
// re-enable an account, remove a member.
import { h, replace, field, when, enumName } from './dom.js';
import { api, enc, plain } from './api.js';
import { confirm, empty, failed, load, modal, notify, showSecret, table } from './ui.js';

const ROLES = [
  ['ROLE_VIEWER', 'Viewer: reads keys, devices, events and telemetry'],
  ['ROLE_ADMIN', 'Admin: also changes keys and devices'],
  ['ROLE_OWNER', 'Owner: also manages users and API keys'],
];

export function render(main, ctx) {
  const base = `/v1/workspaces/${enc(ctx.ws)}/users`;
  const region = h('div', {});
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Users'),
      h('button', { type: 'button', class: 'primary', id: 'add-user', onclick: addUser }, 'Add user')),
    region);

  const refresh = () => load(region, 'users', () => api('GET', `${base}?page_size=500`), (res) => {
    const list = res.users || [];
    if (!list.length) return empty('No users in this workspace.');
    return table('Users', ['User', 'Role', 'Status', 'Last sign-in', ''], list, [
      (u) => h('div', {}, h('strong', {}, u.email), u.display_name ? h('div', { class: 'muted' }, u.display_name) : null),
      (u) => {
        const sel = h('select', { 'aria-label': `Role of ${u.email}` }, ROLES.map(([v, label]) => h('option', { value: v, selected: u.role === v }, label.split(':')[0])));
        sel.addEventListener('change', () => update(u, { role: sel.value }, 'role', `Role of ${u.email} changed.`).catch((err) => {
          sel.value = u.role;
          notify(plain(err), 'error');
        }));
        return sel;
      },
      (u) => h('span', { class: `badge ${u.disabled ? 'badge-revoked' : 'badge-active'}` }, u.disabled ? 'disabled' : 'active'),
      (u) => when(u.last_login_time, 'never'),
      (u) => h('div', { class: 'row-actions' },
        h('button', {
          type: 'button',
          onclick: () => confirm(u.disabled
            ? { title: `Enable ${u.email}?`, body: h('p', {}, 'They can sign in again.'), confirmLabel: 'Enable', action: () => update(u, { disabled: false }, 'disabled', `${u.email} enabled.`) }
            : { title: `Disable ${u.email}?`, body: h('p', {}, 'They are signed out everywhere at once and cannot sign in to any workspace until enabled again.'), confirmLabel: 'Disable', danger: true, action: () => update(u, { disabled: true }, 'disabled', `${u.email} disabled.`) }),
        }, u.disabled ? 'Enable' : 'Disable'),
        h('button', {
          type: 'button',
          class: 'danger',
          onclick: () => confirm({
            title: `Remove ${u.email} from this workspace?`,
            body: h('p', {}, 'They lose access to this workspace at once. Their account and other workspaces are untouched.'),
            confirmLabel: 'Remove', danger: true,
            action: async () => {
              await api('DELETE', `${base}/${enc(u.id)}`);
              notify(`${u.email} removed.`);
              refresh();
            },
          }),
        }, 'Remove')),
    ]);
  });

  async function update(u, user, mask, done) {
    await api('PATCH', `${base}/${enc(u.id)}?update_mask=${mask}`, user);
    notify(done);
    refresh();
  }

  function addUser() {
    modal('Add user', (close) => {
      const email = h('input', { type: 'email', id: 'new-user-email', required: true, maxlength: 254, autocomplete: 'off' });
      const name = h('input', { type: 'text', id: 'new-user-name', maxlength: 200, autocomplete: 'off' });
      const role = h('select', { id: 'new-user-role' }, ROLES.map(([v, label]) => h('option', { value: v }, label)));
      const password = h('input', { type: 'password', id: 'new-user-password', minlength: 12, maxlength: 256, autocomplete: 'new-password' });
      const err = h('p', { class: 'form-error', role: 'alert' });
      const ok = h('button', { type: 'submit', class: 'primary' }, 'Add user');
      return h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          ok.disabled = true;
          try {
            const res = await api('POST', base, { user: { email: email.value.trim(), display_name: name.value.trim(), role: role.value }, password: password.value });
            close();
            if (res.initial_password) {
              await showSecret({ title: `Password for ${res.user.email}`, secret: res.initial_password, name: res.user.email });
            }
            notify(`${res.user.email} added as ${enumName(res.user.role, 'ROLE_')}.`);
            refresh();
          } catch (ex) {
            replace(err, plain(ex));
            ok.disabled = false;
          }
        },
      },
      field('Email', email),
      field('Display name', name),
      field('Role', role),
      field('Initial password', password, 'At least 12 characters. Leave empty to have one generated and shown once. An existing account keeps its password.'),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close }, 'Cancel'), ok));
    });
  }

  refresh();
  return null;
}
