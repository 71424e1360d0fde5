/**
 * A host's Agents screen (`#/host/<id>/agents`, docs/web.md "Agents"), over
 * the host's `agent` channel (agent-channel.ts): this device's tier there
 * (a badge: read-only / ask / auto-edit, and what it lets the agent do), the
 * sandbox said plainly (and, when there is none, that the agent runs with
 * the user's full rights, and why), the live sessions (tap: the chat), the
 * past sessions on the host's disk to resume (kind, folder, title), and a
 * "New session" form: Claude or Codex (an agent the host lacks is disabled,
 * with the reason), the working folder chosen among the device's workspace
 * roots or typed, a tier no higher than the device's, and the prompt.
 *
 * The live list is asked again every 5 s while the screen is shown and the
 * page visible (a session started from another device appears).
 */
import {
  AGENT_KINDS,
  AGENT_TIERS,
  type AgentInfo,
  type AgentKind,
  type AgentSessionInfo,
  type AgentTier,
  type HostId,
  MAX_AGENT_PROMPT,
  type PastAgentSession,
} from '@pocketshell/protocol';
import type { AgentChannel } from '../agent-channel.ts';
import {
  AGENT_LABEL,
  agentError,
  folderProblem,
  STATE_LABEL,
  sandboxWords,
  TIER_HINT,
  TIER_LABEL,
  unavailableReason,
} from '../agent-format.ts';
import { when } from '../alert-format.ts';
import type { App } from '../app.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';

const codeOf = (error: unknown) => (error as { code?: unknown } | undefined)?.code;

/** How often the live list is asked again while shown. */
const REFRESH_MS = 5000;

/** Opens an `agent` channel on the host's link, trying a dropped connection again (twice); a refusal is final. */
export async function openAgentChannel(
  app: App,
  hostId: HostId,
  gone: () => boolean = () => false,
): Promise<AgentChannel> {
  for (let attempt = 0; ; attempt++) {
    try {
      const link = await app.device.link(hostId);
      return await link.openAgent();
    } catch (error) {
      const code = codeOf(error);
      if (gone() || attempt >= 2 || (code !== 'unavailable' && code !== 'timeout')) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The tier badge. */
export function tierBadge(tier: AgentTier): HTMLElement {
  return h(
    'span',
    { class: `badge tier tier-${tier}`, 'data-testid': 'agent-tier', 'data-tier': tier },
    TIER_LABEL[tier],
  );
}

/** The card shown when the host serves no agents. */
function noAgents(name: string): HTMLElement {
  return h(
    'div',
    { class: 'card warn', 'data-testid': 'agents-unsupported', 'data-code': 'unsupported' },
    h('div', { class: 'warn-title' }, 'No agents on this host'),
    h(
      'p',
      {},
      `${name}’s pocketshell runs no agent sessions (it is too old, or this device lost the agent grant).`,
    ),
  );
}

export function agentsView(app: App, [id]: string[]): () => void {
  const host = app.device.host(id ?? '');
  const body = h('div', { class: 'stack agents' });
  const { dispose } = frame(app, host ? `${host.name} · Agents` : 'Agents', body, {
    back: host ? `#/host/${host.id}` : '#/hosts',
  });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  let gone = false;
  let channel: AgentChannel | undefined;
  let info: AgentInfo | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = h('p', { class: 'muted', 'data-testid': 'agents-status' }, 'Connecting…');
  const tierCard = h('section', { class: 'card', 'data-testid': 'agents-tier' });
  const sandboxCard = h('section', { class: 'card', 'data-testid': 'agents-sandbox' });
  const liveList = h('ul', { class: 'list', 'data-testid': 'agent-sessions' });
  const pastList = h('ul', { class: 'list', 'data-testid': 'agent-history' });
  const form = h('section', { class: 'card agent-form', 'data-testid': 'agent-new' });
  fill(body, status);

  const chat = (session: string) =>
    app.go(`#/a/${encodeURIComponent(host.id)}/${encodeURIComponent(session)}`);

  // ------------------------------------------------------------ the form
  let kind: AgentKind = 'claude';
  const kindButtons = new Map<AgentKind, HTMLButtonElement>();
  const kindReason = h('p', { class: 'muted small-note', 'data-testid': 'agent-kind-reason', hidden: true });
  const folder = h('select', { class: 'text-field', 'data-testid': 'agent-folder', 'aria-label': 'Folder' });
  const typed = h('input', {
    class: 'text-field mono',
    type: 'text',
    placeholder: '/path/inside/a/workspace',
    autocapitalize: 'off',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': 'Folder path',
    'data-testid': 'agent-folder-typed',
    hidden: true,
  });
  const tierSelect = h('select', {
    class: 'text-field',
    'data-testid': 'agent-tier-select',
    'aria-label': 'Tier',
  });
  const prompt = h('textarea', {
    class: 'text-field prompt-field',
    rows: 4,
    maxlength: MAX_AGENT_PROMPT,
    placeholder: 'What should the agent do?',
    'aria-label': 'Prompt',
    'data-testid': 'agent-prompt',
  });
  const problem = h('p', {
    class: 'error',
    role: 'alert',
    'data-testid': 'agent-form-problem',
    hidden: true,
  });
  const startButton = h(
    'button',
    { type: 'button', class: 'button primary', 'data-testid': 'agent-start' },
    'Start',
  );
  const setKind = (k: AgentKind) => {
    kind = k;
    for (const [x, b] of kindButtons) b.setAttribute('aria-pressed', x === k ? 'true' : 'false');
    syncStart();
  };
  const syncStart = () => {
    const why = info ? unavailableReason(info, kind) : 'Not connected.';
    startButton.disabled = why !== undefined || !channel;
  };
  folder.addEventListener('change', () => {
    typed.hidden = folder.value !== '';
    problem.hidden = true;
    if (!typed.hidden) typed.focus();
  });
  for (const el of [typed, prompt]) el.addEventListener('input', () => (problem.hidden = true));
  const buildForm = (i: AgentInfo) => {
    kindButtons.clear();
    const reasons: string[] = [];
    for (const k of AGENT_KINDS) {
      const why = unavailableReason(i, k);
      if (why) reasons.push(why);
      const version = i.agents.find((a) => a.kind === k)?.version;
      const b = h(
        'button',
        {
          type: 'button',
          class: 'seg',
          'aria-pressed': 'false',
          'data-kind': k,
          'data-testid': `agent-kind-${k}`,
          disabled: why !== undefined,
          title: why ?? version,
          onclick: () => setKind(k),
        },
        AGENT_LABEL[k],
      );
      kindButtons.set(k, b);
    }
    kindReason.textContent = reasons.join(' ');
    kindReason.hidden = reasons.length === 0;
    const first = AGENT_KINDS.find((k) => unavailableReason(i, k) === undefined) ?? 'claude';
    folder.replaceChildren(
      ...i.roots.map((r, n) => h('option', { value: r, selected: n === 0 }, r)),
      h('option', { value: '' }, 'Another folder…'),
    );
    typed.hidden = i.roots.length > 0;
    tierSelect.replaceChildren(
      ...AGENT_TIERS.slice(0, AGENT_TIERS.indexOf(i.tier) + 1).map((t) =>
        h(
          'option',
          { value: t, selected: t === i.tier },
          `${TIER_LABEL[t]}${t === i.tier ? ' (yours)' : ''}`,
        ),
      ),
    );
    fill(
      form,
      h('h2', {}, 'New session'),
      h('div', { class: 'segmented two', role: 'group', 'aria-label': 'Agent' }, ...kindButtons.values()),
      kindReason,
      h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Folder'), folder, typed),
      h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Tier'), tierSelect),
      h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Prompt'), prompt),
      problem,
      startButton,
    );
    setKind(first);
  };
  const cwdChosen = (): { ok: string } | { problem: string } => {
    if (!info) return { problem: 'Not connected.' };
    if (folder.value !== '') return { ok: folder.value };
    return folderProblem(typed.value, info.roots);
  };
  const showProblem = (text: string) => {
    problem.textContent = text;
    problem.hidden = false;
  };
  startButton.addEventListener('click', async () => {
    if (!channel || !info) return;
    const cwd = cwdChosen();
    if ('problem' in cwd) return showProblem(cwd.problem);
    const text = prompt.value.trim();
    if (text === '') return showProblem('Write a prompt first.');
    startButton.disabled = true;
    startButton.textContent = 'Starting…';
    try {
      const s = await channel.start({ kind, cwd: cwd.ok, tier: tierSelect.value as AgentTier, prompt: text });
      if (!gone) chat(s.id);
    } catch (error) {
      if (gone) return;
      showProblem(`Could not start: ${agentError(error)}`);
      startButton.textContent = 'Start';
      syncStart();
    }
  });

  // ------------------------------------------------------------ lists
  const sessionRow = (s: AgentSessionInfo) =>
    h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `row agent-row state-${s.state}`,
          'data-session': s.id,
          'data-state': s.state,
          onclick: () => chat(s.id),
        },
        h('span', { class: 'badge' }, AGENT_LABEL[s.kind]),
        h(
          'span',
          { class: 'row-main' },
          h('span', { class: 'row-title' }, s.title || 'Untitled session'),
          h('span', { class: 'row-sub mono' }, s.cwd),
          h(
            'span',
            { class: 'row-sub' },
            `${STATE_LABEL[s.state]} · ${TIER_LABEL[s.tier]} · ${when(s.updatedAt)}`,
          ),
        ),
        s.pending > 0
          ? h('span', { class: 'badge waiting', 'data-testid': 'agent-pending' }, `${s.pending} to answer`)
          : h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
      ),
    );
  const pastRow = (p: PastAgentSession) =>
    h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'row agent-row',
          'data-native': p.native,
          'data-kind': p.kind,
          onclick: () => void resume(p),
        },
        h('span', { class: 'badge' }, AGENT_LABEL[p.kind]),
        h(
          'span',
          { class: 'row-main' },
          h('span', { class: 'row-title' }, p.title || 'Untitled session'),
          h('span', { class: 'row-sub mono' }, p.cwd),
          h('span', { class: 'row-sub' }, when(p.updatedAt)),
        ),
        h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
      ),
    );
  const resume = async (p: PastAgentSession) => {
    if (!channel || !info) return;
    const why = unavailableReason(info, p.kind);
    const next = h('textarea', {
      class: 'text-field prompt-field',
      rows: 3,
      maxlength: MAX_AGENT_PROMPT,
      placeholder: 'Optional: the next prompt',
      'aria-label': 'Next prompt',
      'data-testid': 'resume-prompt',
    });
    const { result } = sheet({
      title: 'Resume this session?',
      testid: 'resume-sheet',
      content: [
        h('p', {}, p.title || 'Untitled session'),
        h('p', { class: 'muted mono' }, `${AGENT_LABEL[p.kind]} · ${p.cwd}`),
        h('p', { class: 'muted' }, `It runs at your tier here: ${TIER_LABEL[info.tier]}.`),
        why ? h('p', { class: 'error' }, why) : next,
      ],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        ...(why ? [] : [{ label: 'Resume', value: 'resume', kind: 'primary' as const, testid: 'resume-go' }]),
      ],
    });
    if ((await result) !== 'resume' || gone || !channel) return;
    try {
      const text = next.value.trim();
      const s = await channel.start({
        kind: p.kind,
        cwd: p.cwd,
        resume: p.native,
        ...(text ? { prompt: text } : {}),
      });
      if (!gone) chat(s.id);
    } catch (error) {
      toast(`Could not resume: ${agentError(error)}`);
    }
  };
  const showSessions = (sessions: readonly AgentSessionInfo[]) => {
    const sorted = [...sessions].sort((a, b) => b.updatedAt - a.updatedAt);
    fill(
      liveList,
      ...(sorted.length
        ? sorted.map(sessionRow)
        : [h('li', { class: 'empty' }, h('p', { class: 'muted' }, 'No agent sessions running.'))]),
    );
  };
  const refresh = async () => {
    clearTimeout(timer);
    if (gone || !channel) return;
    try {
      if (document.visibilityState !== 'hidden') showSessions(await channel.sessions());
    } catch {
      // The channel went: the next visit (or a presence change) connects again.
      return;
    }
    if (!gone) timer = setTimeout(() => void refresh(), REFRESH_MS);
  };

  // ------------------------------------------------------------ load
  const load = async () => {
    status.hidden = false;
    status.className = 'muted';
    status.textContent = 'Connecting…';
    const old = channel;
    channel = undefined;
    old?.close();
    try {
      const c = await openAgentChannel(app, host.id as HostId, () => gone);
      if (gone) {
        c.close();
        return;
      }
      const [i, sessions, past] = await Promise.all([c.info(), c.sessions(), c.history(50)]);
      if (gone) return;
      channel = c;
      info = i;
      fill(
        tierCard,
        h('div', { class: 'tier-line' }, h('span', { class: 'label' }, 'Your tier'), tierBadge(i.tier)),
        h('p', { class: 'muted' }, TIER_HINT[i.tier]),
      );
      const sb = sandboxWords(i.sandbox);
      sandboxCard.className = `card${i.sandbox.kind === 'none' ? ' warn no-sandbox' : ''}`;
      sandboxCard.dataset.sandbox = i.sandbox.kind;
      fill(
        sandboxCard,
        h('p', { class: 'sandbox-title' }, sb.title),
        sb.detail ? h('p', { class: 'muted' }, sb.detail) : null,
      );
      buildForm(i);
      showSessions(sessions);
      fill(
        pastList,
        ...(past.length
          ? past.map(pastRow)
          : [
              h(
                'li',
                { class: 'empty' },
                h('p', { class: 'muted' }, 'No past sessions in your workspace folders.'),
              ),
            ]),
      );
      status.hidden = true;
      fill(
        body,
        tierCard,
        sandboxCard,
        h('h2', {}, 'Sessions'),
        liveList,
        form,
        h('h2', {}, 'Resume a past session'),
        pastList,
      );
      clearTimeout(timer);
      timer = setTimeout(() => void refresh(), REFRESH_MS);
      void c.closed.then(() => {
        if (gone || channel !== c) return;
        // Lost (the connection dropped, the host hung up): connect again; what was typed stays.
        channel = undefined;
        syncStart();
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (!gone && !channel) void load();
        }, 1000);
      });
    } catch (error) {
      if (gone) return;
      if (codeOf(error) === 'unsupported') fill(body, noAgents(host.name));
      else {
        status.className = 'error';
        status.textContent = agentError(error);
        fill(
          body,
          status,
          h(
            'button',
            { class: 'button', type: 'button', 'data-testid': 'agents-retry', onclick: () => void load() },
            'Try again',
          ),
        );
      }
    }
  };
  void load();
  const onVisible = () => {
    if (document.visibilityState === 'visible') {
      if (channel) void refresh();
      else if (info) void load();
    }
  };
  document.addEventListener('visibilitychange', onVisible);
  const offPresence = app.device.on('presence', (p) => {
    if (p.host === host.id && p.online && !channel) void load();
  });
  return () => {
    gone = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
    offPresence();
    channel?.close();
    dispose();
  };
}
