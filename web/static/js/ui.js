// Shared pieces of the pages: dialogs, notices and the loading, empty and
// error states every page shows.
import { h, replace } from './dom.js';
import { plain } from './api.js';

// loading, empty and failed fill a page region while data is on its way,
// when there is none, and when the call failed (with a retry button).
export function loading(what) {
  return h('p', { class: 'state state-loading', role: 'status' }, `Loading ${what}…`);
}

export function empty(message, action) {
  return h('div', { class: 'state state-empty' }, h('p', {}, message), action || null);
}

export function failed(err, retry) {
  return h('div', { class: 'state state-error', role: 'alert' },
    h('p', {}, plain(err)),
    retry ? h('button', { type: 'button', onclick: retry }, 'Try again') : null);
}

// load shows loading in region, runs fetch, then render(data) or the error.
export async function load(region, what, fetch, render) {
  replace(region, loading(what));
  try {
    const data = await fetch();
    replace(region, render(data));
  } catch (err) {
    replace(region, failed(err, () => load(region, what, fetch, render)));
  }
}

const toasts = () => document.getElementById('toasts');

// notify shows a short message in the live region; errors stay until
// dismissed, others fade after a few seconds.
export function notify(message, kind) {
  const t = h('div', { class: `toast toast-${kind || 'ok'}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, message),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  toasts().appendChild(t);
  if (kind !== 'error') setTimeout(() => t.remove(), 6000);
}

export function notifyError(err) {
  notify(plain(err), 'error');
}

// modal opens a native <dialog> (focus kept inside, Escape cancels) with
// the given content, and removes it when closed.
export function modal(title, build, opts) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const dlg = h('dialog', { class: `dialog ${opts && opts.wide ? 'dialog-wide' : ''}`, 'aria-labelledby': titleId });
  const close = () => dlg.close();
  dlg.appendChild(h('h2', { id: titleId }, title));
  dlg.appendChild(build(close, dlg));
  dlg.addEventListener('close', () => {
    if (!dlg.dataset.keep) dlg.remove();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  return dlg;
}

// confirm asks before an action that cannot be taken back. body says what
// happens (to live connections, for instance); with a reason label it
// also asks for a reason. Resolves to the reason ('' without one) or null
// when cancelled. action runs inside the dialog so its error shows there.
export function confirm({ title, body, confirmLabel, danger, reasonLabel, action }) {
  return new Promise((resolve) => {
    let done = false;
    const dlg = modal(title, (close) => {
      const reason = reasonLabel ? h('textarea', { id: 'confirm-reason', maxlength: 500, rows: 2 }) : null;
      const err = h('p', { class: 'form-error', role: 'alert' });
      const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, confirmLabel);
      const form = h('form', {
        onsubmit: async (e) => {
          e.preventDefault();
          ok.disabled = true;
          const value = reason ? reason.value.trim() : '';
          try {
            if (action) await action(value);
            done = true;
            resolve(value);
            close();
          } catch (ex) {
            replace(err, plain(ex));
            ok.disabled = false;
          }
        },
      },
      h('div', { class: 'dialog-body' }, body),
      reason ? h('div', { class: 'field' }, h('label', { for: reason.id }, reasonLabel), reason) : null,
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: close }, 'Cancel'),
        ok));
      return form;
    });
    dlg.addEventListener('close', () => {
      if (!done) resolve(null);
    });
  });
}

// showSecret shows a secret once. The dialog cannot be dismissed (Escape,
// a stray click) until the user says they stored it: closing it any other
// way reopens it.
export function showSecret({ title, secret, name, envVar }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const dlg = modal(title, (close) => {
      const box = h('textarea', { class: 'secret', readonly: true, rows: 2, value: secret, 'aria-label': 'Secret', spellcheck: 'false', autocomplete: 'off' });
      const copied = h('span', { class: 'hint', role: 'status' });
      const stored = h('input', { type: 'checkbox', id: 'secret-stored' });
      const done = h('button', { type: 'button', class: 'primary', disabled: true, onclick: () => { confirmed = true; close(); } }, 'Done');
      stored.addEventListener('change', () => { done.disabled = !stored.checked; });
      const copy = async () => {
        try {
          await navigator.clipboard.writeText(secret);
        } catch {
          // Clipboard API needs a secure context; fall back to selection.
          box.select();
          document.execCommand('copy');
        }
        replace(copied, 'Copied.');
      };
      const download = () => {
        const env = `# ${name.replace(/[\r\n]+/g, " ")}\n${envVar}=${secret}\n`;
        const url = URL.createObjectURL(new Blob([env], { type: 'text/plain' }));
        const a = h('a', { href: url, download: `${name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'secret'}.env` });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      };
      return h('div', {},
        h('p', { class: 'warning' }, 'This is the only time the secret is shown. The server keeps only a hash of it and cannot show it again.'),
        box,
        h('div', { class: 'actions actions-left' },
          h('button', { type: 'button', onclick: copy }, 'Copy'),
          envVar ? h('button', { type: 'button', onclick: download }, 'Download .env') : null,
          copied),
        h('div', { class: 'check' }, stored, h('label', { for: 'secret-stored' }, 'I have stored this secret somewhere safe')),
        h('div', { class: 'actions' }, done));
    });
    dlg.dataset.keep = '1';
    dlg.addEventListener('cancel', (e) => e.preventDefault());
    dlg.addEventListener('close', () => {
      if (!confirmed) {
        dlg.showModal();
        return;
      }
      dlg.remove();
      resolve();
    });
  });
}

// table renders rows under headers; cells come from cols[i](row).
export function table(caption, headers, rows, cols) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, cols.map((c, i) => h('td', { 'data-label': headers[i] }, c(r))))))));
}
