/**
 * A dozen lines of DOM building instead of a framework: `h()` makes an
 * element with attributes, listeners and children; text is always set as
 * text (never as HTML), so nothing from a host or the network can inject
 * markup.
 */
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren(
    ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false),
  );
}

/** A short message at the bottom of the screen. */
export function toast(text: string): void {
  const el = h('div', { class: 'toast', role: 'status' }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 3500);
}

/** A new alert at the top of the screen (replacing the one shown), coloured by severity; tapping it opens `open`. */
export function alertToast(text: string, severity: string, open: () => void): void {
  for (const old of document.querySelectorAll('.alert-toast')) old.remove();
  const el = h(
    'button',
    {
      type: 'button',
      class: `alert-toast sev-${severity}`,
      role: 'status',
      'data-testid': 'alert-toast',
      onclick: () => {
        el.remove();
        open();
      },
    },
    text,
  );
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

/** A button of a `sheet`: closing with `value`. */
export interface SheetAction {
  label: string;
  value: string;
  kind?: 'primary' | 'danger';
  testid?: string;
}

/**
 * A modal sheet at the bottom of the screen (a `<dialog>`): a title, any
 * content, and a row of buttons; resolves with the tapped button's value,
 * or null when dismissed (Esc, back). Removed from the page when closed.
 */
export function sheet(options: {
  title: string;
  content: Child[];
  actions: SheetAction[];
  testid?: string;
}): { el: HTMLDialogElement; result: Promise<string | null> } {
  const el = h('dialog', { class: 'sheet', 'data-testid': options.testid, 'aria-label': options.title });
  const buttons = options.actions.map((a) =>
    h(
      'button',
      {
        type: 'button',
        class: `button${a.kind ? ` ${a.kind}` : ''}`,
        'data-testid': a.testid,
        onclick: () => el.close(a.value),
      },
      a.label,
    ),
  );
  el.append(h('h2', {}, options.title), ...options.content.filter((c): c is Node | string => !!c));
  el.append(h('div', { class: 'sheet-actions' }, ...buttons));
  document.body.append(el);
  const result = new Promise<string | null>((resolve) => {
    el.addEventListener('close', () => {
      el.remove();
      resolve(el.returnValue === '' ? null : el.returnValue);
    });
  });
  el.returnValue = '';
  el.showModal();
  return { el, result };
}
