// Events: the workspace's key events, newest first, live. The page reads
// the latest page of the audit log, then follows the gateway's streaming
// watch from there; after a broken stream it resumes from the last event it
// showed, so nothing is missed or shown twice.
import { h, replace, when, enumName } from './dom.js';
import { api, enc, plain, watch } from './api.js';
import { empty, failed, loading } from './ui.js';

const MAX_SHOWN = 500;

// eventRow is one event as a list item: what happened, to what, by whom.
export function eventRow(e) {
  const what = enumName(e.type, 'KEY_EVENT_TYPE_');
  // What the event is about: the device for device events, else the key
  // (by its display prefix) or the user.
  const type = String(e.type || '');
  const subject = (type.includes('_DEVICE_') ? e.device_id : '') || e.display_prefix || e.ingest_key_id || e.device_id || e.api_key_id || e.user_id || '';
  return h('li', { class: `event event-${what.split(' ').pop()}`, 'data-seq': e.sequence },
    h('span', { class: 'event-time' }, when(e.time)),
    h('span', { class: 'event-type' }, what),
    subject ? h('code', { class: 'event-subject' }, subject) : null,
    e.device_id && e.device_id !== subject ? h('span', { class: 'event-device' }, `device ${e.device_id}`) : null,
    e.actor ? h('span', { class: 'event-actor muted' }, `by ${e.actor}`) : null,
    e.reason ? h('span', { class: 'event-reason' }, `“${e.reason}”`) : null,
    (e.changed_fields || []).length ? h('span', { class: 'muted' }, `changed: ${e.changed_fields.join(', ')}`) : null);
}

export function render(main, ctx) {
  const state = h('span', { class: 'badge', id: 'feed-state', role: 'status' }, 'connecting');
  const region = h('div', {}, loading('events'));
  replace(main, h('div', { class: 'page-head' }, h('h1', {}, 'Events'), state), region);

  const aborter = new AbortController();
  let feed = null;
  let last = '0';
  let retry = 1000;
  let timer = null;

  function add(e, atTop) {
    if (!feed) {
      feed = h('ol', { class: 'feed', id: 'event-feed', 'aria-live': 'polite' });
      replace(region, feed);
    }
    const li = eventRow(e);
    if (atTop) feed.prepend(li);
    else feed.appendChild(li);
    while (feed.children.length > MAX_SHOWN) feed.lastElementChild.remove();
  }

  async function start() {
    try {
      const res = await api('GET', `/v1/workspaces/${enc(ctx.ws)}/events?newest_first=true&page_size=50`, undefined, aborter.signal);
      const list = res.events || [];
      if (list.length) {
        list.forEach((e) => add(e, false));
        last = list[0].sequence;
      } else {
        replace(region, empty('No events yet. They appear here as keys and devices change.'));
      }
    } catch (err) {
      if (aborter.signal.aborted) return;
      replace(region, failed(err, start));
      return;
    }
    follow();
  }

  async function follow() {
    replace(state, 'live');
    state.className = 'badge badge-active';
    try {
      await watch(`/v1/workspaces/${enc(ctx.ws)}/events:watch?after_sequence=${enc(last)}`, aborter.signal, (item) => {
        const e = item.event;
        if (!e || BigInt(e.sequence) <= BigInt(last)) return;
        last = e.sequence;
        retry = 1000;
        add(e, true);
      });
    } catch (err) {
      if (aborter.signal.aborted) return;
      replace(state, `reconnecting: ${plain(err)}`);
      state.className = 'badge badge-inactive';
      if (err.status === 401 || err.status === 403) return;
    }
    if (aborter.signal.aborted) return;
    timer = setTimeout(follow, retry);
    retry = Math.min(retry * 2, 30000);
  }

  start();
  return () => {
    aborter.abort();
    clearTimeout(timer);
  };
}
