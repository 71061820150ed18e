// API keys (owners): credentials for scripts and the CLI, confined to this
// workspace and to permissions an owner holds here. The server decides what
// an owner may see and do; keys bound to other workspaces are not listed.
import { h, replace, field, when, keyStatus, exact } from './dom.js';
import { api, enc, plain } from './api.js';
import { confirm, empty, load, modal, notify, showSecret, table } from './ui.js';

export function render(main, ctx) {
  const region = h('div', {});
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'API keys'),
      h('button', { type: 'button', class: 'primary', id: 'add-api-key', onclick: addKey }, 'Add API key')),
    h('p', { class: 'muted' }, 'API keys let scripts and ingestctl call the API with fixed permissions in this workspace.'),
    region);

  const refresh = () => load(region, 'API keys', () => api('GET', '/v1/apiKeys?page_size=500'), (res) => {
    const list = (res.api_keys || []).filter((k) => (k.workspace_ids || []).includes(ctx.ws));
    if (!list.length) return empty('No API keys for this workspace yet.');
    return table('API keys', ['Name', 'Prefix', 'Status', 'Permissions', 'Expires', 'Last used', ''], list, [
      (k) => h('strong', {}, k.name),
      (k) => h('code', {}, k.display_prefix),
      (k) => keyStatus(k),
      (k) => (k.permissions || []).join(', '),
      (k) => k.expire_time ? exact(k.expire_time) : 'never',
      (k) => when(k.last_used_time, 'never'),
      (k) => h('div', { class: 'row-actions' },
        k.status !== 'KEY_STATUS_REVOKED' ? h('button', {
          type: 'button',
          class: 'danger',
          onclick: () => confirm({
            title: `Revoke ${k.name}?`,
            body: [h('p', {}, 'Every call made with it is refused from now on, on every node.'), h('p', { class: 'warning' }, 'This cannot be undone.')],
            confirmLabel: 'Revoke', danger: true, reasonLabel: 'Reason (recorded in the audit log)',
            action: async (reason) => {
              await api('POST', `/v1/apiKeys/${enc(k.id)}:revoke`, { reason });
              notify(`${k.name} revoked.`);
              refresh();
            },
          }),
        }, 'Revoke') : null,
        h('button', {
          type: 'button',
          class: 'danger',
          onclick: () => confirm({
            title: `Delete ${k.name}?`,
            body: h('p', {}, 'Calls made with it are refused from now on, and it leaves this list.'),
            confirmLabel: 'Delete', danger: true,
            action: async () => {
              await api('DELETE', `/v1/apiKeys/${enc(k.id)}`);
              notify(`${k.name} deleted.`);
              refresh();
            },
          }),
        }, 'Delete')),
    ]);
  });

  function addKey() {
    modal('Add API key', (close) => {
      const name = h('input', { type: 'text', id: 'new-api-key-name', required: true, maxlength: 200, autocomplete: 'off' });
      const boxes = ctx.perms.map((p) => h('input', { type: 'checkbox', id: `perm-${p.replace(':', '-')}`, value: p, checked: p.endsWith(':read') }));
      const err = h('p', { class: 'form-error', role: 'alert' });
      const ok = h('button', { type: 'submit', class: 'primary' }, 'Create API key');
      return h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          const permissions = boxes.filter((b) => b.checked).map((b) => b.value);
          if (!permissions.length) {
            replace(err, 'Choose at least one permission.');
            return;
          }
          ok.disabled = true;
          try {
            const res = await api('POST', '/v1/apiKeys', { name: name.value.trim(), permissions, workspace_ids: [ctx.ws] });
            close();
            await showSecret({ title: `Secret for ${res.api_key.name}`, secret: res.secret, name: res.api_key.name, envVar: 'INGESTGATE_API_KEY' });
            refresh();
          } catch (ex) {
            replace(err, plain(ex));
            ok.disabled = false;
          }
        },
      },
      field('Name', name),
      h('fieldset', {}, h('legend', {}, `Permissions in ${ctx.ws}`),
        boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, b.value)))),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close }, 'Cancel'), ok));
    });
  }

  refresh();
  return null;
}
