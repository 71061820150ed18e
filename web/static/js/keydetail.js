// One ingest key: its settings, the actions on it (each confirmed, saying
// what happens to live connections), its live connections and its audit
// trail. Live figures refresh every two seconds.
import { h, replace, when, exact, keyStatus } from './dom.js';
import { api, enc, plain } from './api.js';
import { confirm, empty, failed, loading, notify, notifyError, showSecret, table, modal } from './ui.js';
import { scopeSummary } from './keys.js';
import { eventRow } from './events.js';

const POLL_MS = 2000;

export function render(main, ctx, [keyID]) {
  const base = `/v1/workspaces/${enc(ctx.ws)}/ingestKeys/${enc(keyID)}`;
  const head = h('div', {});
  const conns = h('div', { 'aria-live': 'polite' }, loading('connections'));
  const audit = h('div', {}, loading('audit trail'));
  replace(main,
    h('p', {}, h('a', { href: `#/w/${enc(ctx.ws)}/keys` }, '← Ingest keys')),
    head,
    h('section', { 'aria-labelledby': 'conns-title' }, h('h2', { id: 'conns-title' }, 'Live connections'), conns),
    h('section', { 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit trail'), audit));

  let key = null;
  let timer = null;
  let stopped = false;
  let lastSeq = null;
  let headState = '';

  async function poll() {
    clearTimeout(timer);
    try {
      const res = await api('GET', base);
      key = res.ingest_key;
      // Re-render the head only when something shown changed, so a focused
      // control keeps its focus between polls.
      const state = JSON.stringify(key, (k, v) => (k === 'last_used_time' || k === 'records_received' || k === 'batches_received' || k === 'live_streams' ? undefined : v));
      if (state !== headState) {
        headState = state;
        replace(head, header(key));
      }
      replace(head.querySelector('#live-streams'), String(key.live_streams || 0));
      replace(head.querySelector('#records'), String(key.records_received || 0));
      replace(head.querySelector('#last-used'), when(key.last_used_time, 'never'));
    } catch (err) {
      headState = '';
      replace(head, failed(err, poll));
      if (err.status === 404) return; // deleted: stop polling
    }
    await Promise.all([loadConnections(), loadAudit()]);
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  async function loadConnections() {
    try {
      const res = await api('GET', `/v1/workspaces/${enc(ctx.ws)}/connections?ingest_key_id=${enc(keyID)}&page_size=200`);
      const list = res.connections || [];
      replace(conns,
        res.partial ? h('p', { class: 'warning' }, 'Some nodes could not be asked; the list may be incomplete.') : null,
        list.length ? table('Live connections', ['Device', 'Node', 'Opened', 'Peer', 'Records', 'Last batch'], list, [
          (c) => c.device_id,
          (c) => c.node || '—',
          (c) => when(c.open_time),
          (c) => c.peer_address || '—',
          (c) => String(c.records || 0),
          (c) => when(c.last_batch_time, 'none yet'),
        ]) : empty('No device is connected with this key.'));
    } catch (err) {
      replace(conns, failed(err, loadConnections));
    }
  }

  async function loadAudit() {
    try {
      const res = await api('GET', `/v1/workspaces/${enc(ctx.ws)}/events?ingest_key_id=${enc(keyID)}&newest_first=true&page_size=50`);
      const list = res.events || [];
      const seq = list.length ? list[0].sequence : '0';
      if (seq === lastSeq) return;
      lastSeq = seq;
      replace(audit, list.length
        ? h('ol', { class: 'feed', id: 'key-audit' }, list.map(eventRow))
        : empty('No events yet.'));
    } catch (err) {
      lastSeq = null;
      replace(audit, failed(err, loadAudit));
    }
  }

  // act runs a change and refreshes the page.
  const act = (what, fn) => async (arg) => {
    await fn(arg);
    notify(what);
    headState = '';
    poll();
  };

  function header(k) {
    const revoked = k.status === 'KEY_STATUS_REVOKED';
    const writable = ctx.can('keys:write');
    const live = () => Number(head.querySelector('#live-streams').textContent) || 0;
    const streams = () => {
      const n = live();
      return n === 1 ? 'The 1 device stream open now with this key' : `The ${n} device streams open now with this key`;
    };
    const controls = [];
    if (writable && !revoked) {
      const sw = h('input', { type: 'checkbox', role: 'switch', id: 'key-active', checked: k.status === 'KEY_STATUS_ACTIVE' });
      sw.addEventListener('change', async () => {
        const activate = sw.checked;
        sw.checked = !activate; // until confirmed and done
        const ok = await confirm(activate
          ? { title: `Activate ${k.name}?`, body: h('p', {}, 'Devices holding this key can connect and send again.'), confirmLabel: 'Activate', action: act('Key activated.', () => api('POST', `${base}:activate`, {})) }
          : { title: `Deactivate ${k.name}?`, body: h('p', {}, `${streams()} close at once on every node, and new ones are refused until you activate the key again.`), confirmLabel: 'Deactivate', danger: true, action: act('Key deactivated.', () => api('POST', `${base}:deactivate`, {})) });
        if (ok !== null) sw.checked = activate;
      });
      controls.push(h('div', { class: 'check switch' }, sw, h('label', { for: 'key-active' }, 'Active')));
      controls.push(h('button', { type: 'button', id: 'rotate-key', onclick: () => rotate(k) }, 'Rotate secret'));
      controls.push(h('button', {
        type: 'button', class: 'danger', id: 'revoke-key',
        onclick: () => confirm({
          title: `Revoke ${k.name}?`,
          body: [h('p', {}, `${streams()} close at once on every node with the status REVOKED, and the key never works again.`), h('p', { class: 'warning' }, 'This cannot be undone.')],
          confirmLabel: 'Revoke key', danger: true, reasonLabel: 'Reason (recorded in the audit trail and sent to the devices)',
          action: act('Key revoked.', (reason) => api('POST', `${base}:revoke`, { reason })),
        }),
      }, 'Revoke'));
    }
    if (writable) {
      controls.push(h('button', {
        type: 'button', class: 'danger', id: 'delete-key',
        onclick: () => confirm({
          title: `Delete ${k.name}?`,
          body: [h('p', {}, `${revoked ? 'The key is removed' : `${streams()} close at once, and the key is removed`}. Its audit trail is kept.`), h('p', { class: 'warning' }, 'This cannot be undone.')],
          confirmLabel: 'Delete key', danger: true,
          action: async () => {
            await api('DELETE', base);
            notify('Key deleted.');
            stopped = true;
            ctx.go(`/w/${enc(ctx.ws)}/keys`);
          },
        }),
      }, 'Delete'));
    }
    const limits = k.limits || {};
    return h('div', {},
      h('div', { class: 'page-head' },
        h('h1', {}, k.name, ' ', keyStatus(k)),
        h('div', { class: 'controls' }, controls)),
      k.description ? h('p', { class: 'description' }, k.description) : null,
      h('dl', { class: 'facts' },
        fact('Key id', h('code', {}, k.id)),
        fact('Prefix', h('code', {}, k.display_prefix)),
        fact('Devices', scopeSummary(k.scope)),
        fact('Live streams', h('strong', { id: 'live-streams' }, String(k.live_streams || 0))),
        fact('Records received', h('span', { id: 'records' }, String(k.records_received || 0))),
        fact('Last used', h('span', { id: 'last-used' }, when(k.last_used_time, 'never'))),
        fact('Expires', k.expire_time ? exact(k.expire_time) : 'never'),
        fact('Rate limit', limits.records_per_second ? `${limits.records_per_second} records/s` : 'server default'),
        fact('Max streams', limits.max_streams ? String(limits.max_streams) : 'server default'),
        k.previous_secret_expire_time ? fact('Previous secret', `${k.previous_display_prefix} works until ${exact(k.previous_secret_expire_time)}`) : null,
        revoked ? fact('Revoked', `${exact(k.revoke_time)}${k.revoke_reason ? `: ${k.revoke_reason}` : ''}`) : null,
        fact('Created', exact(k.create_time))));
  }

  function rotate(k) {
    modal(`Rotate ${k.name}?`, (close) => {
      const grace = h('select', { id: 'grace' },
        h('option', { value: '0s' }, 'None: the old secret stops working now'),
        h('option', { value: '3600s' }, '1 hour'),
        h('option', { value: '86400s', selected: true }, '24 hours'),
        h('option', { value: '604800s' }, '7 days'));
      const err = h('p', { class: 'form-error', role: 'alert' });
      const ok = h('button', { type: 'submit', class: 'primary' }, 'Rotate');
      return h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          ok.disabled = true;
          try {
            const res = await api('POST', `${base}:rotate`, { grace_period: grace.value });
            close();
            await showSecret({ title: `New secret for ${k.name}`, secret: res.secret, name: k.name, envVar: 'INGESTGATE_INGEST_KEY' });
            notify('Secret rotated.');
            headState = '';
            poll();
          } catch (ex) {
            replace(err, plain(ex));
            ok.disabled = false;
          }
        },
      },
      h('p', {}, 'A new secret is issued and shown once. Streams using the old secret stay open until its grace period ends, then close; devices must switch to the new secret.'),
      h('div', { class: 'field' }, h('label', { for: 'grace' }, 'Old secret keeps working for'), grace),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close }, 'Cancel'), ok));
    });
  }

  poll().catch(notifyError);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function fact(label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value));
}
