/**
 * Devices of one host (`#/host/<id>/devices`): the devices paired with that
 * computer (`devices.list`), each with its grants as toggles, when it was
 * paired and last seen, whether it is connected now and which one is this
 * device. A device holding `admin` there changes another device's grants
 * (`devices.grants`; taking `admin` or `shell` away asks first) and
 * revokes it (`devices.revoke`, after a sheet naming it: its connections
 * close at once). Every device can unpair itself: the host forgets it
 * (`devices.revoke` of itself) and this browser forgets the host, as the
 * Devices tab's Unpair does. Without `admin` (`grant_missing`) the screen
 * says so and still offers "Unpair this device".
 */
import {
  type CallArgs,
  type ControlMethod,
  type ControlMethods,
  type ControlResult,
  type DeviceId,
  type DeviceInfo,
  GRANTS,
  type Grant,
  type HostId,
} from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';

/** Grants whose removal asks first: they take away terminals or the management of devices. */
const CONFIRM_REMOVAL: readonly Grant[] = ['admin', 'shell'];

/** How long "Unpair this device" waits for the host before unpairing locally only. */
const REVOKE_SELF_TIMEOUT_MS = 5_000;

const codeOf = (error: unknown) => (error as { code?: unknown }).code;

/** `d_abcdefgh…`: enough to tell two devices apart on a phone. */
function shortId(id: string): string {
  return `${id.slice(0, 10)}…`;
}

function day(unixS: number): string {
  return new Date(unixS * 1000).toLocaleDateString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
}

/** "just now", "5 min ago", "3 h ago", or a date. */
function ago(unixS: number, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round(nowMs / 1000 - unixS));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return day(unixS);
}

export function hostDevicesView(app: App, [id]: string[]): () => void {
  const host = app.device.host(id ?? '');
  const body = h('div', { class: 'stack' });
  const { dispose } = frame(app, 'Devices', body, { back: host ? `#/host/${host.id}` : '#/hosts' });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  const hostId = host.id as HostId;
  let gone = false;
  let busy = false;

  const status = h('p', { class: 'muted', 'data-testid': 'devices-status' }, 'Connecting…');
  const intro = h('p', { class: 'muted' }, `Devices paired with ${host.name}.`);
  const unpairSelf = h(
    'button',
    {
      class: 'button danger',
      type: 'button',
      'data-testid': 'unpair-self',
      onclick: () => void unpairThis(),
    },
    'Unpair this device',
  );
  fill(body, intro, status, unpairSelf);

  const call = async <K extends ControlMethod>(
    method: K,
    ...args: CallArgs<ControlMethods, K>
  ): Promise<ControlResult<K>> => (await app.device.link(hostId)).call(method, ...args);

  const load = async () => {
    if (app.device.online(hostId) === false) {
      status.textContent = `${host.name} is offline.`;
      fill(body, intro, status, unpairSelf);
      return;
    }
    try {
      const { devices } = await call('devices.list');
      if (gone) return;
      // This device first, then the others by name.
      const sorted = [...devices].sort(
        (a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name),
      );
      const list = h('ul', { class: 'list', 'data-testid': 'devices' }, ...sorted.map(deviceRow));
      fill(body, intro, list, sorted.some((d) => d.self) ? null : unpairSelf);
    } catch (error) {
      if (gone) return;
      if (codeOf(error) === 'grant_missing') {
        fill(
          body,
          h(
            'div',
            { class: 'card warn', 'data-testid': 'devices-denied', 'data-code': 'grant_missing' },
            h('div', { class: 'warn-title' }, 'Not allowed'),
            h(
              'p',
              {},
              `This device may not manage devices on ${host.name}: it does not hold the admin grant there.`,
            ),
            h(
              'p',
              { class: 'muted' },
              'A device with admin on that computer can give it; this device can still unpair itself.',
            ),
          ),
          unpairSelf,
        );
        return;
      }
      status.textContent = `Could not reach the host: ${(error as Error).message}`;
      fill(body, intro, status, unpairSelf);
    }
  };

  const deviceRow = (d: DeviceInfo): HTMLElement => {
    const online = d.connections > 0;
    const seen = online
      ? 'connected now'
      : d.lastSeen === undefined
        ? 'never connected'
        : `last seen ${ago(d.lastSeen)}`;
    const chips = GRANTS.map((g) => {
      const held = d.grants.includes(g);
      return h(
        'button',
        {
          class: 'chip',
          type: 'button',
          'data-grant': g,
          'aria-pressed': held ? 'true' : 'false',
          // This device's own grants are not changed from here: taking away one's own admin locks one out.
          disabled: d.self,
          onclick: () => void toggle(d, g),
        },
        g,
      );
    });
    return h(
      'li',
      {
        class: 'card device',
        'data-device': d.id,
        'data-self': d.self ? 'true' : undefined,
        'data-online': online ? 'true' : 'false',
      },
      h(
        'div',
        { class: 'device-head' },
        h('span', { class: online ? 'dot online' : 'dot', 'aria-hidden': 'true' }),
        h('span', { class: 'row-title' }, d.name || 'Unnamed device'),
        d.self ? h('span', { class: 'badge self', 'data-testid': 'this-device' }, 'this device') : null,
      ),
      h('div', { class: 'host-id' }, shortId(d.id)),
      h(
        'div',
        { class: 'row-sub wrap' },
        `Paired ${day(d.pairedAt)} · `,
        h('span', { class: `presence${online ? ' online' : ''}` }, seen),
      ),
      h('div', { class: 'label' }, 'Grants'),
      h('div', { class: 'chips', role: 'group', 'aria-label': `Grants of ${d.name}` }, ...chips),
      d.self
        ? h('div', { class: 'row-sub wrap' }, 'Your own grants are changed from another device with admin.')
        : null,
      h(
        'div',
        { class: 'device-actions' },
        d.self
          ? h(
              'button',
              {
                class: 'button danger small',
                type: 'button',
                'data-testid': 'unpair-self',
                onclick: () => void unpairThis(),
              },
              'Unpair this device',
            )
          : h(
              'button',
              {
                class: 'button danger small',
                type: 'button',
                'data-action': 'revoke',
                onclick: () => void revoke(d),
              },
              'Revoke',
            ),
      ),
    );
  };

  const toggle = async (d: DeviceInfo, g: Grant) => {
    if (busy || d.self) return;
    const removing = d.grants.includes(g);
    if (removing && CONFIRM_REMOVAL.includes(g)) {
      const what =
        g === 'admin'
          ? 'It will no longer manage devices or close other devices’ sessions.'
          : 'It will no longer open terminals; its open terminals close now.';
      const { result } = sheet({
        title: `Remove ${g} from ${d.name}?`,
        testid: 'grant-sheet',
        content: [h('p', { class: 'muted' }, `${what} It is disconnected at once.`)],
        actions: [
          { label: 'Cancel', value: 'cancel', testid: 'grant-cancel' },
          { label: `Remove ${g}`, value: 'remove', kind: 'danger', testid: 'grant-confirm' },
        ],
      });
      if ((await result) !== 'remove' || gone) return;
    }
    const grants = removing ? d.grants.filter((x) => x !== g) : [...d.grants, g];
    busy = true;
    try {
      await call('devices.grants', { device: d.id, grants });
      toast(`${d.name}: ${removing ? 'removed' : 'gave'} ${g}`);
    } catch (error) {
      toast(`Could not change grants: ${(error as Error).message}`);
    } finally {
      busy = false;
    }
    if (!gone) await load();
  };

  const revoke = async (d: DeviceInfo) => {
    const { result } = sheet({
      title: `Revoke ${d.name}?`,
      testid: 'revoke-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          `“${d.name}” (${shortId(d.id)}) is unpaired from ${host.name} and its open terminals close at once. It needs a new pairing code to come back.`,
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel', testid: 'revoke-cancel' },
        { label: 'Revoke', value: 'revoke', kind: 'danger', testid: 'revoke-confirm' },
      ],
    });
    if ((await result) !== 'revoke' || gone) return;
    try {
      await call('devices.revoke', { device: d.id });
      toast(`Revoked ${d.name}`);
    } catch (error) {
      toast(`Could not revoke: ${(error as Error).message}`);
    }
    if (!gone) await load();
  };

  const unpairThis = async () => {
    const { result } = sheet({
      title: `Unpair this device from ${host.name}?`,
      testid: 'unpair-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          `${host.name} forgets this device and this browser forgets ${host.name}. You will need a new pairing code to use it again.`,
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel', testid: 'unpair-cancel' },
        { label: 'Unpair', value: 'unpair', kind: 'danger', testid: 'unpair-confirm' },
      ],
    });
    if ((await result) !== 'unpair' || gone) return;
    // Tell the host first while the connection is there; offline, the relay tells it (`pair.revoke`).
    if (app.device.online(hostId) !== false) {
      const self = call('devices.revoke', {
        device: app.device.id as DeviceId,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        self.catch(() => {}),
        new Promise((r) => {
          timer = setTimeout(r, REVOKE_SELF_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await app.device.unpair(hostId);
    toast(`Unpaired from ${host.name}`);
    if (!gone) app.go('#/hosts', true);
  };

  void load();
  const off = app.device.on('presence', (p) => {
    if (p.host === hostId && !busy) void load();
  });
  return () => {
    gone = true;
    off();
    dispose();
  };
}
