// Devices: who is registered, connected or not, last seen; edit tags,
// disconnect, delete.
import { h, replace, field, when } from './dom.js';
import { api, enc, plain, q } from './api.js';
import { confirm, empty, failed, loading, modal, notify, table } from './ui.js';
import { splitList } from './keys.js';

const POLL_MS = 5000;

function tagList(tags) {
  const entries = Object.entries(tags || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h('span', { class: 'muted' }, 'no tags');
  return h('ul', { class: 'tags' }, entries.map(([k, v]) => h('li', {}, h('code', {}, `${k}=${v}`))));
}

function connected(d) {
  const n = d.live_streams || 0;
  return n ? h('span', { class: 'badge badge-active' }, n === 1 ? 'connected' : `${n} streams`) : h('span', { class: 'badge' }, 'offline');
}

export function render(main, ctx) {
  const prefix = h('input', { type: 'search', id: 'device-prefix', maxlength: 128, placeholder: 'sensor-' });
  const tag = h('input', { type: 'search', id: 'device-tag', maxlength: 320, placeholder: 'site=berlin' });
  const region = h('div', { 'aria-live': 'polite' });
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Devices')),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); refresh(true); } },
      field('Id starts with', prefix), field('Tag', tag)),
    region);

  let shown = null;
  let timer = null;
  let typing = null;
  async function refresh(showLoading) {
    clearTimeout(timer);
    if (showLoading || !shown) replace(region, loading('devices'));
    try {
      const res = await api('GET', `/v1/workspaces/${enc(ctx.ws)}/devices${q({ page_size: 200, id_prefix: prefix.value.trim(), tags: tag.value.trim() })}`);
      const list = res.devices || [];
      const ids = list.map((d) => `${d.id}@${d.update_time}`).join(' ');
      if (ids === shown && !showLoading) {
        for (const d of list) {
          const row = region.querySelector(`tr[data-device="${CSS.escape(d.id)}"]`);
          if (row) {
            replace(row.querySelector('.conn'), connected(d));
            replace(row.querySelector('.seen'), when(d.last_seen_time, 'never'));
          }
        }
      } else {
        shown = ids;
        replace(region, list.length ? deviceTable(list) : empty(
          prefix.value || tag.value ? 'No device matches these filters.' : 'No devices yet. A device is registered the first time it connects, or when a key lists it.'));
      }
    } catch (err) {
      shown = null;
      replace(region, failed(err, () => refresh(true)));
    }
    timer = setTimeout(() => refresh(false), POLL_MS);
  }

  function deviceTable(list) {
    const writable = ctx.can('devices:write');
    const t = table('Devices', ['Device', 'Tags', 'Connection', 'Last seen', ''], list, [
      (d) => h('div', {}, h('strong', {}, d.id), d.display_name ? h('div', { class: 'muted' }, d.display_name) : null),
      (d) => tagList(d.tags),
      (d) => h('span', { class: 'conn' }, connected(d)),
      (d) => h('span', { class: 'seen' }, when(d.last_seen_time, 'never')),
      (d) => writable ? h('div', { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => editTags(d) }, 'Edit tags'),
        h('button', {
          type: 'button',
          onclick: () => confirm({
            title: `Disconnect ${d.id}?`,
            body: h('p', {}, 'Its open streams close now. Its key is untouched, so the device may reconnect at once.'),
            confirmLabel: 'Disconnect',
            action: async () => {
              await api('POST', `/v1/workspaces/${enc(ctx.ws)}/devices/${enc(d.id)}:disconnect`, {});
              notify(`${d.id} disconnected.`);
              refresh(true);
            },
          }),
        }, 'Disconnect'),
        h('button', {
          type: 'button',
          class: 'danger',
          onclick: () => confirm({
            title: `Delete ${d.id}?`,
            body: [h('p', {}, 'Its open streams close now and the device is removed with its tags. Its telemetry and audit events are kept.'), h('p', {}, 'A key that admits any device lets it register again when it reconnects.')],
            confirmLabel: 'Delete device',
            danger: true,
            action: async () => {
              await api('DELETE', `/v1/workspaces/${enc(ctx.ws)}/devices/${enc(d.id)}`);
              notify(`${d.id} deleted.`);
              refresh(true);
            },
          }),
        }, 'Delete')) : null,
    ]);
    const rows = t.querySelectorAll('tbody tr');
    list.forEach((d, i) => rows[i].setAttribute('data-device', d.id));
    return t;
  }

  function editTags(d) {
    modal(`Tags of ${d.id}`, (close) => {
      const text = Object.entries(d.tags || {}).map(([k, v]) => `${k}=${v}`).join('\n');
      const area = h('textarea', { id: 'device-tags', rows: 6, maxlength: 20000, value: text });
      const err = h('p', { class: 'form-error', role: 'alert' });
      const ok = h('button', { type: 'submit', class: 'primary' }, 'Save tags');
      return h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          const tags = {};
          for (const t of splitList(area.value)) {
            const i = t.indexOf('=');
            if (i <= 0) {
              replace(err, `“${t}” is not a tag: write key=value.`);
              return;
            }
            tags[t.slice(0, i).trim()] = t.slice(i + 1).trim();
          }
          ok.disabled = true;
          try {
            await api('PATCH', `/v1/workspaces/${enc(ctx.ws)}/devices/${enc(d.id)}?update_mask=tags`, { tags });
            close();
            notify(`Tags of ${d.id} saved.`);
            refresh(true);
          } catch (ex) {
            replace(err, plain(ex));
            ok.disabled = false;
          }
        },
      },
      field('Tags', area, 'One key=value per line. Keys whose scope no longer admits the device close its streams.'),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close }, 'Cancel'), ok));
    });
  }

  const onInput = () => {
    clearTimeout(typing);
    typing = setTimeout(() => refresh(true), 300);
  };
  prefix.addEventListener('input', onInput);
  tag.addEventListener('input', onInput);
  refresh(true);
  return () => {
    clearTimeout(timer);
    clearTimeout(typing);
  };
}
