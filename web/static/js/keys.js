// Ingest keys: the list with its filters, and the add-key dialog.
import { h, replace, field, when, keyStatus } from './dom.js';
import { api, enc, plain, q } from './api.js';
import { empty, failed, loading, modal, showSecret, table } from './ui.js';

// scopeSummary says in a few words which devices a key admits.
export function scopeSummary(scope) {
  if (!scope || scope.all_devices) return 'Any device';
  const parts = [];
  const ids = scope.device_ids || [];
  const tags = scope.tags || [];
  if (ids.length) parts.push(`${ids.length === 1 ? 'device' : `${ids.length} devices`}: ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}`);
  if (tags.length) parts.push(`tags: ${tags.slice(0, 3).join(', ')}${tags.length > 3 ? ', …' : ''}`);
  return parts.join('; ') || 'No device';
}

// splitList reads ids or tags typed one per line or separated by commas.
export function splitList(text) {
  return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

const POLL_MS = 5000;

export function render(main, ctx) {
  const status = h('select', { id: 'key-status' },
    h('option', { value: '' }, 'Any status'),
    h('option', { value: 'KEY_STATUS_ACTIVE' }, 'Active'),
    h('option', { value: 'KEY_STATUS_INACTIVE' }, 'Inactive'),
    h('option', { value: 'KEY_STATUS_REVOKED' }, 'Revoked'));
  const search = h('input', { type: 'search', id: 'key-search', maxlength: 200, placeholder: 'Name contains…' });
  const region = h('div', { 'aria-live': 'polite' });
  const add = ctx.can('keys:write')
    ? h('button', { type: 'button', class: 'primary', id: 'add-key', onclick: () => addKey(ctx) }, 'Add key')
    : null;
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Ingest keys'), add),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); refresh(true); } },
      field('Status', status), field('Search by name', search)),
    region);

  let shown = null; // ids in the table, to update it in place
  let timer = null;
  let aborter = null;
  async function refresh(showLoading) {
    clearTimeout(timer);
    if (aborter) aborter.abort();
    aborter = new AbortController();
    if (showLoading || !shown) replace(region, loading('ingest keys'));
    try {
      const res = await api('GET', `/v1/workspaces/${enc(ctx.ws)}/ingestKeys${q({ page_size: 200, status: status.value, name_contains: search.value.trim() })}`, undefined, aborter.signal);
      const list = res.ingest_keys || [];
      const ids = list.map((k) => k.id).join(' ');
      if (shown === ids && !showLoading) {
        // Same rows: update the live figures without disturbing focus.
        for (const k of list) {
          const row = region.querySelector(`tr[data-key="${CSS.escape(k.id)}"]`);
          if (row) {
            replace(row.querySelector('.live'), String(k.live_streams || 0));
            replace(row.querySelector('.used'), when(k.last_used_time, 'never'));
            replace(row.querySelector('.status'), keyStatus(k));
          }
        }
      } else {
        shown = ids;
        replace(region, list.length ? keyTable(ctx, list) : empty(
          status.value || search.value ? 'No key matches these filters.' : 'No ingest keys yet. Add one to let devices send telemetry.'));
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      shown = null;
      replace(region, failed(err, () => refresh(true)));
    }
    timer = setTimeout(() => refresh(false), POLL_MS);
  }
  status.addEventListener('change', () => refresh(true));
  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => refresh(true), 300);
  });
  refresh(true);
  return () => {
    clearTimeout(timer);
    clearTimeout(typing);
    if (aborter) aborter.abort();
  };
}

function keyTable(ctx, list) {
  const t = table('Ingest keys',
    ['Name', 'Prefix', 'Status', 'Scope', 'Expires', 'Last used', 'Live streams'],
    list,
    [
      (k) => h('a', { href: `#/w/${enc(ctx.ws)}/keys/${enc(k.id)}`, class: 'key-name' }, k.name),
      (k) => h('code', {}, k.display_prefix),
      (k) => h('span', { class: 'status' }, keyStatus(k)),
      (k) => scopeSummary(k.scope),
      (k) => when(k.expire_time, 'never'),
      (k) => h('span', { class: 'used' }, when(k.last_used_time, 'never')),
      (k) => h('span', { class: 'live' }, String(k.live_streams || 0)),
    ]);
  const rows = t.querySelectorAll('tbody tr');
  list.forEach((k, i) => rows[i].setAttribute('data-key', k.id));
  return t;
}

// addKey asks for a new key's settings, creates it, shows its secret once
// and opens its page.
function addKey(ctx) {
  modal('Add ingest key', (close) => {
    const name = h('input', { type: 'text', id: 'new-key-name', required: true, maxlength: 200, autocomplete: 'off' });
    const desc = h('textarea', { id: 'new-key-desc', maxlength: 2000, rows: 2 });
    const scopeAny = h('input', { type: 'radio', name: 'scope', id: 'scope-any', value: 'any', checked: true });
    const scopeIds = h('input', { type: 'radio', name: 'scope', id: 'scope-ids', value: 'ids' });
    const scopeTags = h('input', { type: 'radio', name: 'scope', id: 'scope-tags', value: 'tags' });
    const list = h('textarea', { id: 'new-key-scope', rows: 3, disabled: true, maxlength: 20000, placeholder: 'sensor-1, sensor-2' });
    const expire = h('input', { type: 'datetime-local', id: 'new-key-expire' });
    const rate = h('input', { type: 'number', id: 'new-key-rate', min: 0, max: 1000000000, step: 1, inputmode: 'numeric' });
    const streams = h('input', { type: 'number', id: 'new-key-streams', min: 0, max: 1000000, step: 1, inputmode: 'numeric' });
    const err = h('p', { class: 'form-error', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');
    for (const r of [scopeAny, scopeIds, scopeTags]) {
      r.addEventListener('change', () => {
        list.disabled = scopeAny.checked;
        list.placeholder = scopeTags.checked ? 'site=berlin, env=prod' : 'sensor-1, sensor-2';
      });
    }
    return h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const key = { name: name.value.trim(), description: desc.value, scope: {} };
        if (scopeAny.checked) key.scope.all_devices = true;
        else if (scopeIds.checked) key.scope.device_ids = splitList(list.value);
        else key.scope.tags = splitList(list.value);
        if (!scopeAny.checked && !splitList(list.value).length) {
          replace(err, scopeIds.checked ? 'List at least one device id.' : 'List at least one tag, written key=value.');
          list.focus();
          return;
        }
        if (expire.value) key.expire_time = new Date(expire.value).toISOString();
        const limits = {};
        if (rate.value) limits.records_per_second = Number(rate.value);
        if (streams.value) limits.max_streams = Number(streams.value);
        if (Object.keys(limits).length) key.limits = limits;
        submit.disabled = true;
        replace(err);
        try {
          const res = await api('POST', `/v1/workspaces/${enc(ctx.ws)}/ingestKeys`, key);
          close();
          await showSecret({ title: `Secret for ${res.ingest_key.name}`, secret: res.secret, name: res.ingest_key.name, envVar: 'INGESTGATE_INGEST_KEY' });
          ctx.go(`/w/${enc(ctx.ws)}/keys/${enc(res.ingest_key.id)}`);
        } catch (ex) {
          replace(err, plain(ex));
          submit.disabled = false;
        }
      },
    },
    field('Name', name),
    field('Description', desc),
    h('fieldset', {},
      h('legend', {}, 'Devices it admits'),
      h('div', { class: 'check' }, scopeAny, h('label', { for: 'scope-any' }, 'Any device of the workspace')),
      h('div', { class: 'check' }, scopeIds, h('label', { for: 'scope-ids' }, 'Only these device ids')),
      h('div', { class: 'check' }, scopeTags, h('label', { for: 'scope-tags' }, 'Devices with any of these tags')),
      field('Device ids or tags', list, 'One per line or separated by commas.')),
    field('Expires', expire, 'Optional. Leave empty for a key that never expires.'),
    h('div', { class: 'row' },
      field('Records per second', rate, 'Optional; empty uses the server default.'),
      field('Max streams', streams, 'Optional; empty uses the server default.')),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: close }, 'Cancel'), submit));
  }, { wide: true });
  document.getElementById('new-key-name').focus();
}
