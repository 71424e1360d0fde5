/**
 * An agent session's chat (`#/a/<host>/<session>`, docs/web.md "Agents"):
 * its events (agent-watch.ts: from the first, and after a lost connection
 * from the last one seen) folded by agent-transcript.ts and drawn in order —
 * prompts and the agent's messages (text deltas appended as they stream),
 * tool calls folded (tap to unfold the input, the output, the diff), diffs
 * capped at 400 lines with "Show more" and coloured (+/- lines, the
 * language's keywords by highlight.ts), approvals as two big buttons with
 * exactly what will run (the command in monospace, the path, the diff) —
 * Deny takes an optional reason — and, once answered, who answered. The
 * agent's fenced code blocks show in monospace, coloured. The header
 * line holds the agent, the state (working, waiting for you, idle,
 * ended) and the tier; the composer sends the next prompt; Interrupt stops
 * the running turn, Stop ends the session (after a confirmation). An ended
 * session whose agent id is known offers Resume.
 *
 * Everything from the host is set as text (ui.ts's `h`), never as markup.
 */
import {
  type AgentEvent,
  type AgentSessionInfo,
  type AgentState,
  type HostId,
  MAX_AGENT_PROMPT,
} from '@pocketshell/protocol';
import type { AgentChannel } from '../agent-channel.ts';
import {
  AGENT_LABEL,
  APPROVAL_TITLE,
  agentError,
  approvalOutcome,
  DIFF_LINES_SHOWN,
  diffLines,
  diffStat,
  fenceFile,
  live,
  messageBlocks,
  resultLine,
  STATE_LABEL,
  toolSummary,
} from '../agent-format.ts';
import { AgentTranscript, type Change, type ChatItem } from '../agent-transcript.ts';
import { AgentWatch, type AgentWatchState } from '../agent-watch.ts';
import { when } from '../alert-format.ts';
import type { App } from '../app.ts';
import { highlight } from '../highlight.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { openAgentChannel, tierBadge } from './agents.ts';
import { frame } from './chrome.ts';

type Ev<T extends AgentEvent['type']> = Extract<AgentEvent, { type: T }>;

/**
 * A diff as coloured lines, the first 400 shown, "Show more" for the next
 * 400. `file` names the language (and is shown unless `named` is false: an
 * approval shows its path above).
 */
export function diffView(diff: string, file?: string, named = true): HTMLElement {
  const stat = diffStat(diff);
  const lines = h('code', {});
  const more = h('button', { type: 'button', class: 'button small diff-more', 'data-testid': 'diff-more' });
  let shown = 0;
  const show = () => {
    const { lines: part, more: left } = diffLines(diff, file, DIFF_LINES_SHOWN, shown);
    shown += part.length;
    for (const l of part) {
      const row = h('span', { class: `dl dl-${l.kind}` });
      if (l.mark) row.append(h('span', { class: 'dl-mark', 'aria-hidden': 'true' }, l.mark));
      for (const [cls, s] of l.tokens) row.append(cls ? h('span', { class: `hl-${cls}` }, s) : s);
      row.append('\n');
      lines.append(row);
    }
    more.hidden = left === 0;
    more.textContent = `Show ${Math.min(left, DIFF_LINES_SHOWN)} more lines (${left} left)`;
  };
  more.addEventListener('click', show);
  show();
  return h(
    'div',
    { class: 'diff', 'data-testid': 'diff', 'data-lines': String(shown) },
    h(
      'div',
      { class: 'diff-stat' },
      h('span', { class: 'dl-add-text' }, `+${stat.added}`),
      ' ',
      h('span', { class: 'dl-del-text' }, `−${stat.removed}`),
      file && named ? h('span', { class: 'mono diff-file' }, file) : null,
    ),
    h('pre', { class: 'code diff-lines' }, lines),
    more,
  );
}

/** An agent's message: prose as written, fenced code in monospace and coloured (a diff fence as a diff). */
function messageEls(text: string): HTMLElement[] {
  const blocks = messageBlocks(text);
  if (blocks.length === 0) return [h('div', { class: 'msg-text' }, '')];
  return blocks.map((b) => {
    if (b.kind === 'text') return h('div', { class: 'msg-text' }, b.text);
    if (b.lang === 'diff' || b.lang === 'patch') return diffView(b.text);
    const code = h('code', {});
    for (const [cls, t] of highlight(b.text, fenceFile(b.lang)))
      code.append(cls ? h('span', { class: `hl-${cls}` }, t) : t);
    return h('pre', { class: 'code msg-code', 'data-lang': b.lang || 'plain' }, code);
  });
}

/** `input` (compact JSON) indented for reading, or as it came. */
function pretty(input: string): string {
  try {
    return JSON.stringify(JSON.parse(input), null, 2);
  } catch {
    return input;
  }
}

const TOOL_STATE: Record<Ev<'tool'>['state'], string> = {
  started: 'running',
  done: 'done',
  failed: 'failed',
  denied: 'denied',
};

export function agentChatView(app: App, [hostId, session]: string[]): () => void {
  const host = app.device.host(hostId ?? '');
  const sessionId = session ?? '';
  const body = h('div', { class: 'chat', 'data-testid': 'agent-chat', 'data-session': sessionId });
  const { el, dispose } = frame(app, 'Agent session', body, {
    back: host ? `#/host/${host.id}/agents` : '#/hosts',
  });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  const hid = host.id as HostId;
  let gone = false;
  let info: AgentSessionInfo | undefined;
  const transcript = new AgentTranscript();
  const nodes = new Map<string, HTMLElement>();
  const titleEl = el.querySelector('header h1') as HTMLElement;
  const scroller = el.querySelector('main.content') as HTMLElement;
  scroller.classList.add('chat-scroll');

  // ------------------------------------------------------------ header line
  const kindBadge = h('span', { class: 'badge', 'data-testid': 'agent-kind' }, '…');
  const stateBadge = h('span', { class: 'badge agent-state', 'data-testid': 'agent-state' }, '…');
  const tierSlot = h('span', {});
  const sandboxBadge = h(
    'span',
    {
      class: 'badge no-sandbox',
      'data-testid': 'agent-no-sandbox',
      hidden: true,
      title: 'No sandbox on this host',
    },
    'no sandbox',
  );
  const connBadge = h('span', { class: 'badge conn-note', 'data-testid': 'agent-conn', hidden: true });
  const pendingButton = h('button', {
    type: 'button',
    class: 'chip pending-jump',
    'data-testid': 'agent-pending-jump',
    hidden: true,
  });
  const cwdLine = h('div', { class: 'chat-cwd mono', 'data-testid': 'agent-cwd' });
  const sub = h(
    'div',
    { class: 'chat-head' },
    h(
      'div',
      { class: 'chat-badges' },
      kindBadge,
      stateBadge,
      tierSlot,
      sandboxBadge,
      connBadge,
      pendingButton,
    ),
    cwdLine,
  );
  el.querySelector('header')?.after(sub);

  const log = h('ol', { class: 'chat-log', 'data-testid': 'agent-log', 'aria-live': 'polite' });
  const note = h('p', { class: 'muted chat-note', 'data-testid': 'agent-note' }, 'Connecting…');
  fill(body, log, note);

  // ------------------------------------------------------------ composer
  const input = h('textarea', {
    class: 'text-field composer-field',
    rows: 2,
    maxlength: MAX_AGENT_PROMPT,
    placeholder: 'Next prompt…',
    'aria-label': 'Next prompt',
    'data-testid': 'agent-input',
  });
  const sendButton = h(
    'button',
    { type: 'button', class: 'button primary', 'data-testid': 'agent-send', 'aria-label': 'Send' },
    'Send',
  );
  const interruptButton = h(
    'button',
    { type: 'button', class: 'button small', 'data-testid': 'agent-interrupt' },
    'Interrupt',
  );
  const stopButton = h(
    'button',
    { type: 'button', class: 'button small danger', 'data-testid': 'agent-stop' },
    'Stop',
  );
  const resumeButton = h(
    'button',
    { type: 'button', class: 'button small primary', 'data-testid': 'agent-resume', hidden: true },
    'Resume',
  );
  const endedNote = h('span', { class: 'muted ended-note', hidden: true }, 'This session has ended.');
  const composer = h(
    'footer',
    { class: 'composer', 'data-testid': 'agent-composer' },
    h(
      'div',
      { class: 'composer-actions' },
      pendingButton,
      endedNote,
      interruptButton,
      stopButton,
      resumeButton,
    ),
    h('div', { class: 'composer-row' }, input, sendButton),
  );
  el.append(composer);

  const channel = (): AgentChannel | undefined => watch.channel;

  // ------------------------------------------------------------ state
  const state = (): AgentState | undefined => transcript.state ?? info?.state;
  const syncHead = () => {
    const s = state();
    stateBadge.dataset.state = s ?? 'unknown';
    stateBadge.textContent = s ? STATE_LABEL[s] : '…';
    const alive = s === undefined || live(s);
    const connected = channel() !== undefined;
    input.disabled = !alive;
    sendButton.disabled = !alive || !connected;
    interruptButton.hidden = !alive;
    interruptButton.disabled = !connected || (s !== 'working' && s !== 'waiting');
    stopButton.hidden = !alive;
    stopButton.disabled = !connected;
    endedNote.hidden = alive;
    resumeButton.hidden = alive || info?.native === undefined;
    input.closest('.composer-row')?.toggleAttribute('hidden', !alive);
    const pending = transcript.pending.length;
    pendingButton.hidden = pending === 0;
    pendingButton.textContent = `${pending} to answer ↑`;
  };
  const showInfo = (s: AgentSessionInfo) => {
    info = s;
    titleEl.textContent = s.title || 'Agent session';
    kindBadge.textContent = AGENT_LABEL[s.kind];
    kindBadge.dataset.kind = s.kind;
    fill(tierSlot, tierBadge(s.tier));
    sandboxBadge.hidden = s.sandbox !== 'none';
    cwdLine.textContent = s.cwd;
    syncHead();
  };

  // ------------------------------------------------------------ items
  let stick = true;
  scroller.addEventListener('scroll', () => {
    stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  });
  let scrollQueued = false;
  const follow = () => {
    if (!stick || scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      scroller.scrollTop = scroller.scrollHeight;
    });
  };

  const answer = async (ev: Ev<'approval'>, decision: 'approve' | 'deny', buttons: HTMLButtonElement[]) => {
    const c = channel();
    if (!c) {
      toast('Not connected to the host right now.');
      return;
    }
    let message: string | undefined;
    if (decision === 'deny') {
      const reason = h('textarea', {
        class: 'text-field',
        rows: 3,
        maxlength: 1024,
        placeholder: 'Optional: why (told to the agent)',
        'aria-label': 'Reason',
        'data-testid': 'deny-reason',
      });
      const { result } = sheet({
        title: 'Deny this request?',
        testid: 'deny-sheet',
        content: [h('p', { class: 'muted' }, ev.summary), reason],
        actions: [
          { label: 'Cancel', value: 'cancel' },
          { label: 'Deny', value: 'deny', kind: 'danger', testid: 'deny-go' },
        ],
      });
      if ((await result) !== 'deny' || gone) return;
      message = reason.value.trim();
    }
    for (const b of buttons) b.disabled = true;
    try {
      await c.answer(sessionId, ev.id, decision, message);
    } catch (error) {
      toast(`Could not answer: ${agentError(error)}`);
      for (const b of buttons) b.disabled = false;
    }
  };

  const approvalEl = (ev: Ev<'approval'>): HTMLElement => {
    const pending = ev.state === 'pending';
    const approve = h(
      'button',
      { type: 'button', class: 'button primary big', 'data-testid': 'approve' },
      'Approve',
    );
    const deny = h('button', { type: 'button', class: 'button danger big', 'data-testid': 'deny' }, 'Deny');
    approve.addEventListener('click', () => void answer(ev, 'approve', [approve, deny]));
    deny.addEventListener('click', () => void answer(ev, 'deny', [approve, deny]));
    return h(
      'li',
      {
        class: `approval state-${ev.state}`,
        'data-testid': 'approval',
        'data-approval': ev.id,
        'data-state': ev.state,
        'data-action': ev.action,
      },
      h(
        'div',
        { class: 'approval-head' },
        h('span', { class: 'approval-title' }, APPROVAL_TITLE[ev.action]),
        h('span', { class: 'badge' }, ev.tool),
      ),
      h('p', { class: 'approval-summary' }, ev.summary),
      ev.command !== undefined
        ? h('pre', { class: 'code approval-command', 'data-testid': 'approval-command' }, ev.command)
        : null,
      ev.path !== undefined
        ? h('div', { class: 'approval-path mono', 'data-testid': 'approval-path' }, ev.path)
        : null,
      ev.diff !== undefined ? diffView(ev.diff, ev.path, false) : null,
      pending
        ? h('div', { class: 'approval-actions' }, deny, approve)
        : h('p', { class: 'approval-outcome', 'data-testid': 'approval-outcome' }, approvalOutcome(ev)),
      !pending && ev.message
        ? h(
            'p',
            { class: 'approval-told', 'data-testid': 'approval-told' },
            `Told the agent: “${ev.message}”`,
          )
        : null,
    );
  };

  const toolEl = (ev: Ev<'tool'>, open: boolean): HTMLElement => {
    const details = h(
      'details',
      { class: 'tool', 'data-testid': 'tool', 'data-tool': ev.id, 'data-state': ev.state, open },
      h(
        'summary',
        {},
        h('span', { class: `tool-dot tool-${ev.state}`, 'aria-hidden': 'true' }),
        h('span', { class: 'tool-name' }, ev.name),
        h('span', { class: 'tool-sub mono' }, toolSummary(ev.name, ev.input)),
        h('span', { class: 'tool-state' }, TOOL_STATE[ev.state]),
      ),
      h(
        'div',
        { class: 'tool-body' },
        h('div', { class: 'label' }, 'Input'),
        h('pre', { class: 'code tool-input' }, pretty(ev.input)),
        ev.diff !== undefined ? diffView(ev.diff) : null,
        ev.output !== undefined ? h('div', { class: 'label' }, 'Output') : null,
        ev.output !== undefined
          ? h('pre', { class: 'code tool-output', 'data-testid': 'tool-output' }, ev.output)
          : null,
        ev.truncated ? h('p', { class: 'muted small-note' }, 'Cut short by the host.') : null,
      ),
    );
    return h('li', { class: 'tool-item' }, details);
  };

  const itemEl = (item: ChatItem): HTMLElement => {
    switch (item.kind) {
      case 'user':
        return h(
          'li',
          { class: 'msg user', 'data-testid': 'msg-user', 'data-seq': String(item.event.seq) },
          h('div', { class: 'msg-text' }, item.event.text),
          h(
            'div',
            { class: 'msg-meta' },
            `${item.event.by ? `${item.event.by} · ` : ''}${when(item.event.at)}`,
          ),
        );
      case 'text':
        return h(
          'li',
          { class: 'msg assistant', 'data-testid': 'msg-agent', 'data-id': item.id },
          ...messageEls(item.text),
        );
      case 'tool':
        return toolEl(item.event, false);
      case 'approval':
        return approvalEl(item.event);
      case 'result':
        return h(
          'li',
          { class: `sys-line${item.event.ok ? '' : ' error'}`, 'data-testid': 'agent-result' },
          resultLine(item.event),
          !item.event.ok && item.event.text ? `: ${item.event.text}` : '',
        );
      case 'error':
        return h(
          'li',
          { class: 'sys-line error', 'data-testid': 'agent-error', 'data-code': item.event.code },
          `${item.event.message} (${item.event.code})`,
        );
      case 'state':
        return h(
          'li',
          { class: 'sys-line', 'data-testid': 'agent-state-line', 'data-state': item.event.state },
          `Session ${STATE_LABEL[item.event.state]}${item.event.detail ? ` · ${item.event.detail}` : ''}`,
        );
      case 'gap':
        return h(
          'li',
          { class: 'sys-line' },
          `Events ${item.from}–${item.to} are no longer kept on the host.`,
        );
    }
  };

  const render = (change: Change) => {
    if (change.op === 'none') return;
    const { item } = change;
    if (change.op === 'add') {
      const node = itemEl(item);
      nodes.set(item.key, node);
      log.append(node);
    } else {
      const old = nodes.get(item.key);
      // A streamed piece of prose is appended; one that touches a code fence redraws the message.
      const last = old?.lastElementChild;
      if (
        change.appended !== undefined &&
        last?.classList.contains('msg-text') &&
        !change.appended.includes('`') &&
        !(last.textContent ?? '').endsWith('`')
      )
        last.append(change.appended);
      else {
        const open = old?.querySelector('details')?.open ?? false;
        const node = item.kind === 'tool' ? toolEl(item.event, open) : itemEl(item);
        if (old) old.replaceWith(node);
        else log.append(node);
        nodes.set(item.key, node);
      }
    }
    follow();
  };

  // ------------------------------------------------------------ the watch
  const watch = new AgentWatch<AgentChannel>({
    session: sessionId,
    open: async () => {
      const c = await openAgentChannel(app, hid, () => gone);
      // The header's facts (kind, tier, folder, title), asked on every connection.
      void c
        .sessions()
        .then((list) => {
          const s = list.find((x) => x.id === sessionId);
          if (s && !gone) showInfo(s);
        })
        .catch(() => {});
      return c;
    },
    onEvent: (e) => {
      render(transcript.apply(e));
      // The last event shown (a reconnect asks from here).
      body.dataset.seq = String(e.seq);
      if (e.type === 'state' || e.type === 'approval') syncHead();
      note.hidden = true;
    },
    onGap: (from, to) => render(transcript.gap(from, to)),
    onState: (s: AgentWatchState, error) => {
      connBadge.hidden = s === 'live' || s === 'ended' || s === 'stopped';
      connBadge.dataset.state = s;
      connBadge.textContent =
        s === 'refused' ? 'not available' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
      if (s === 'refused') {
        note.hidden = false;
        note.className = 'error chat-note';
        note.textContent =
          (error as { code?: unknown } | undefined)?.code === 'not_found'
            ? 'This session is no longer on the host. Past sessions can be resumed from the Agents screen.'
            : agentError(error);
      } else if (s === 'live' && transcript.items.length === 0) note.textContent = 'Waiting for the agent…';
      syncHead();
    },
  });

  // ------------------------------------------------------------ actions
  const send = async () => {
    const c = channel();
    const text = input.value.trim();
    if (!c || text === '') return;
    sendButton.disabled = true;
    try {
      await c.send(sessionId, text);
      input.value = '';
      stick = true;
      follow();
    } catch (error) {
      toast(`Could not send: ${agentError(error)}`);
    } finally {
      syncHead();
    }
  };
  sendButton.addEventListener('click', () => void send());
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void send();
    }
  });
  interruptButton.addEventListener('click', async () => {
    const c = channel();
    if (!c) return;
    try {
      await c.stop(sessionId, true);
    } catch (error) {
      toast(`Could not interrupt: ${agentError(error)}`);
    }
  });
  stopButton.addEventListener('click', async () => {
    const { result } = sheet({
      title: 'Stop this session?',
      testid: 'stop-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          'The agent’s process ends on the computer; approvals still waiting expire. It can be resumed later from the Agents screen.',
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        { label: 'Stop session', value: 'stop', kind: 'danger', testid: 'stop-go' },
      ],
    });
    if ((await result) !== 'stop' || gone) return;
    const c = channel();
    if (!c) return;
    try {
      await c.stop(sessionId);
    } catch (error) {
      toast(`Could not stop: ${agentError(error)}`);
    }
  });
  resumeButton.addEventListener('click', async () => {
    const c = channel();
    if (!c || !info?.native) return;
    resumeButton.disabled = true;
    try {
      const s = await c.start({ kind: info.kind, cwd: info.cwd, resume: info.native });
      if (!gone) app.go(`#/a/${encodeURIComponent(hid)}/${encodeURIComponent(s.id)}`);
    } catch (error) {
      toast(`Could not resume: ${agentError(error)}`);
      resumeButton.disabled = false;
    }
  });
  pendingButton.addEventListener('click', () => {
    const first = transcript.pending[0];
    if (first) nodes.get(`a:${first.id}`)?.scrollIntoView({ block: 'center' });
  });

  syncHead();
  watch.start();
  const onVisible = () => {
    if (document.visibilityState === 'visible') watch.wake();
  };
  document.addEventListener('visibilitychange', onVisible);
  const offPresence = app.device.on('presence', (p) => {
    if (p.host === hid && p.online) watch.wake();
  });
  return () => {
    gone = true;
    watch.stop();
    document.removeEventListener('visibilitychange', onVisible);
    offPresence();
    dispose();
  };
}
