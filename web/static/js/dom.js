// Building the page from data. Every string passed as a child becomes a
// text node, never HTML: names, descriptions and tags come from users and
// devices, and this is the one place that turns them into DOM.

// h(tag, attrs, ...children) creates an element. attrs: `class`, `text`,
// `on<event>` handlers, booleans (true sets, false omits), anything else as
// an attribute. Children may be nodes, strings, numbers, arrays or null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'value') {
      el.value = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idSeq = 0;
// uid is a fresh element id, to tie labels to their controls.
export function uid(prefix) {
  idSeq += 1;
  return `${prefix || 'f'}-${idSeq}`;
}

// field is a labelled control: label, the control, and an optional hint.
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const hintEl = hint ? h('p', { class: 'hint', id: control.id + '-hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

// when renders a timestamp as a <time> with the exact instant on hover.
export function when(ts, empty) {
  if (!ts) return h('span', { class: 'muted' }, empty || '—');
  const d = new Date(ts);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, ago(d));
}

// ago is a short relative time: "12 s ago", "in 3 d"; dates beyond a
// month show as dates.
export function ago(d, now) {
  const s = Math.round(((now || Date.now()) - d.getTime()) / 1000);
  const abs = Math.abs(s);
  if (abs > 30 * 86400) return dateFmt.format(d);
  let v;
  if (abs < 60) v = `${abs} s`;
  else if (abs < 3600) v = `${Math.floor(abs / 60)} min`;
  else if (abs < 86400) v = `${Math.floor(abs / 3600)} h`;
  else v = `${Math.floor(abs / 86400)} d`;
  return s >= 0 ? `${v} ago` : `in ${v}`;
}

export function exact(ts) {
  return ts ? dateFmt.format(new Date(ts)) : '—';
}

// enumName turns KEY_STATUS_ACTIVE into "active" given its prefix.
export function enumName(v, prefix) {
  return String(v || '').replace(prefix, '').toLowerCase().replaceAll('_', ' ');
}

// keyStatus is the status badge of an ingest or API key.
export function keyStatus(k) {
  let s = enumName(k.status, 'KEY_STATUS_') || 'unknown';
  if (k.expired && s === 'active') s = 'expired';
  return h('span', { class: `badge badge-${s}` }, s);
}
