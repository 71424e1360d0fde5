/**
 * Terminal attention detection for one session (issue 16; docs/host.md
 * "Terminal attention"): turns what the screen mirror's parser sees into
 * `AttentionEvent`s (attention.ts). The mirror's xterm parser already reads
 * every byte and handles sequences split across reads, so detection hooks
 * into it (`onBell`, `onOsc`) instead of scanning the output again: BEL
 * outside sequences → `bell`; OSC 9 (not ConEmu's numeric sub-commands) and
 * OSC 777;notify → `notify`; OSC 133 C→D → `finished` with the duration and
 * exit code. Sessions whose shell never emitted OSC 133 fall back to input
 * and quiet: Enter starts a command, output that then stays quiet with text
 * before the cursor ends it (reported only while nobody watches). Output
 * gone quiet at a line that reads like a question (a password, y/n,
 * `Continue?`) while nobody watches → `prompt`, once per prompt. The output
 * path costs one timestamp per read; one timer per session re-checks quiet
 * (never re-armed per read), and each reason is coalesced to at most one
 * event per `coalesceMs` (the last one held back is sent when the window
 * ends).
 */
import {
  ATTENTION_REASONS,
  type AttentionReason,
  MAX_ALERT_BODY,
  MAX_ALERT_TITLE,
} from '@pocketshell/protocol';
import type { AttentionEvent, AttentionListener } from './attention.ts';
import type { CursorMark, ScreenMirror } from './screen-mirror.ts';

/** Timings of the detection (defaults in `ATTENTION_DEFAULTS`). */
export interface AttentionTuning {
  /** Without OSC 133: quiet after output that ends a command started by Enter. */
  readonly quietMs: number;
  /** Quiet after output before the cursor line is read as a prompt. */
  readonly promptQuietMs: number;
  /** At most one event per reason per session in this window. */
  readonly coalesceMs: number;
}

export const ATTENTION_DEFAULTS: AttentionTuning = {
  quietMs: 5000,
  promptQuietMs: 3000,
  coalesceMs: 5000,
};

/** What a detector needs from its session. */
export interface AttentionSource {
  readonly session: string;
  readonly mirror: ScreenMirror;
  readonly listener: AttentionListener;
  /** True while at least one device is attached. */
  readonly watched: () => boolean;
  /** True when a device was attached at time `at` (or is now). */
  readonly watchedAt: (at: number) => boolean;
  /** The session's name, else its program-set title. */
  readonly title: () => string;
  readonly clock: () => number;
  readonly tuning?: Partial<AttentionTuning>;
}

/** Question-like endings of a line waiting for input; shell and REPL prompts (`$ `, `> `) match none. */
const PROMPTS: readonly RegExp[] = [
  /\b(?:password|passphrase|passcode|pin|otp|verification code)\b[^:]{0,80}:\s*$/i,
  /\?\s*$/,
  /[[(](?:y\/n|yes\/no|y\/n\/a|yes\/no\/\[fingerprint\])[\])]\s*[:?]?\s*$/i,
  /\bpress (?:enter|return|any key)\b[^\n]{0,40}$/i,
];

/** ConEmu's OSC 9 sub-commands (9;1 sleep … 9;12), which are not notifications. */
const CONEMU = /^(?:[1-9]|1[0-2])(?:;|$)/;

/** `text` with control characters and lone surrogates removed, whitespace runs folded, capped at `max`. */
export function cleanText(text: string, max: number): string {
  return (
    text
      .replace(/[\t\n\r\v\f]+/g, ' ')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters
      .replace(/[\x00-\x1f\x7f-\x9f]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
      .trim()
      .slice(0, max)
      .replace(/[\uD800-\uDBFF]$/, '')
  );
}

/** True when the text before the cursor reads like a question waiting for an answer. */
export function looksLikePrompt(before: string): boolean {
  const line = before.trimStart();
  if (line.length < 2 || !/[A-Za-z]/.test(line)) return false;
  return PROMPTS.some((re) => re.test(line));
}

interface Slot {
  until: number;
  held: AttentionEvent | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** OSC 133 marks: A prompt start, B command start (typing), C executed, D finished. */
type Mark = 'A' | 'B' | 'C' | 'D';

export class AttentionDetector {
  readonly #src: AttentionSource;
  readonly #tuning: AttentionTuning;
  readonly #slots = new Map<AttentionReason, Slot>();
  /** Last OSC 133 mark seen; undefined while the shell never sent one. */
  #mark: Mark | undefined;
  /** Where typing started (OSC 133;B), to read the command at C. */
  #typed: CursorMark | undefined;
  /** The running command (OSC 133;C, or Enter without OSC 133; `checked`: output judged up to then). */
  #command: { start: number; text: string | CursorMark; checked: number } | undefined;
  #lastOutputAt = 0;
  /** Output arrived since the cursor line was last judged as a prompt. */
  #promptDue = false;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(src: AttentionSource) {
    this.#src = src;
    this.#tuning = { ...ATTENTION_DEFAULTS, ...src.tuning };
    for (const r of ATTENTION_REASONS) this.#slots.set(r, { until: 0, held: undefined, timer: undefined });
    const m = src.mirror;
    m.onBell(() => this.#emit('bell', '', '', this.#parseTime()));
    m.onOsc(9, (data) => {
      if (!CONEMU.test(data)) this.#emit('notify', '', data, this.#parseTime());
    });
    m.onOsc(777, (data) => {
      const parts = data.split(';');
      if (parts[0] !== 'notify') return;
      this.#emit('notify', parts[1] ?? '', parts.slice(2).join(';'), this.#parseTime());
    });
    m.onOsc(133, (data) => this.#shellMark(data));
  }

  /** The session read output at `at` (once per coalesced read; cheap). */
  output(at: number): void {
    this.#lastOutputAt = at;
    this.#promptDue = true;
    this.#arm(at);
  }

  /** Input reached the program: Enter starts a command when the shell gives no OSC 133. */
  input(data: Uint8Array | string): void {
    if (this.#mark !== undefined || this.#command !== undefined || this.#disposed) return;
    const enter =
      typeof data === 'string'
        ? data.includes('\r') || data.includes('\n')
        : data.includes(13) || data.includes(10);
    if (!enter) return;
    if (this.#src.mirror.cursor().alternate) return;
    const start = this.#src.clock();
    // The command is read at the end from where the cursor is now (its echo follows).
    this.#command = { start, text: this.#src.mirror.markCursor(), checked: start };
  }

  /** Stops the timers; held events are dropped. Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.#endCommand();
    this.#typed?.dispose();
    this.#typed = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const s of this.#slots.values()) {
      clearTimeout(s.timer);
      s.timer = undefined;
      s.held = undefined;
    }
  }

  /** Forgets the running command; returns its text (read from its mark, which is freed). */
  #endCommand(): string | undefined {
    const cmd = this.#command;
    this.#command = undefined;
    if (!cmd) return undefined;
    if (typeof cmd.text === 'string') return cmd.text;
    const text = cmd.text.text();
    cmd.text.dispose();
    return text;
  }

  #parseTime(): number {
    return this.#src.mirror.parsingAt || this.#src.clock();
  }

  #shellMark(data: string): void {
    const mark = data[0];
    if (mark !== 'A' && mark !== 'B' && mark !== 'C' && mark !== 'D') return;
    if (this.#mark === undefined) this.#endCommand(); // the fallback's guess gives way
    this.#mark = mark;
    const at = this.#parseTime();
    if (mark === 'B') {
      this.#typed?.dispose();
      this.#typed = this.#src.mirror.markCursor();
    } else if (mark === 'C') {
      this.#endCommand();
      this.#command = { start: at, text: this.#typed?.text() ?? '', checked: at };
      this.#typed?.dispose();
      this.#typed = undefined;
    } else if (mark === 'D') {
      const cmd = this.#command;
      const text = this.#endCommand();
      if (!cmd || text === undefined) return;
      const code = /^D;(-?\d{1,9})(?:;|$)/.exec(data);
      this.#emit('finished', '', text, at, {
        durationMs: Math.max(0, at - cmd.start),
        ...(code ? { exitCode: Number(code[1]) } : {}),
      });
    }
  }

  /** One timer per session: due when the earliest quiet period could have passed. */
  #arm(now: number): void {
    if (this.#timer !== undefined || this.#disposed) return;
    let quiet = this.#promptDue ? this.#tuning.promptQuietMs : Number.POSITIVE_INFINITY;
    if (this.#commandQuiet()) quiet = Math.min(quiet, this.#tuning.quietMs);
    if (quiet === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, this.#lastOutputAt + quiet - now));
    this.#timer.unref?.();
  }

  /** The fallback's command has output not judged yet. */
  #commandQuiet(): boolean {
    const cmd = this.#command;
    return this.#mark === undefined && cmd !== undefined && this.#lastOutputAt > cmd.checked;
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#disposed) return;
    const now = this.#src.clock();
    const quiet = now - this.#lastOutputAt;
    const checkPrompt = this.#promptDue && quiet >= this.#tuning.promptQuietMs;
    const cmd = this.#commandQuiet() && quiet >= this.#tuning.quietMs ? this.#command : undefined;
    if (!checkPrompt && !cmd) {
      this.#arm(now);
      return;
    }
    const lastOutputAt = this.#lastOutputAt;
    if (checkPrompt) this.#promptDue = false;
    if (cmd) cmd.checked = lastOutputAt;
    this.#src.mirror.whenCaughtUp(() => {
      if (this.#disposed) return;
      const cur = this.#src.mirror.cursor();
      const watched = this.#src.watched();
      if (checkPrompt) {
        const shellPrompt = this.#mark === 'A' || this.#mark === 'B';
        if (!watched && !cur.alternate && !shellPrompt && looksLikePrompt(cur.before))
          this.#emit('prompt', '', cur.before, now);
      }
      // A command ends at quiet with text before the cursor (its prompt came back); a silent
      // command (cursor at the start of an empty line) is still running.
      if (cmd && this.#command === cmd && cur.before.trim() !== '') {
        const text = this.#endCommand();
        // Judged at the moment its output ended, not when this check ran: a device attached
        // then saw it finish, even if it left before the quiet period was over.
        if (!this.#src.watchedAt(lastOutputAt) && !cur.alternate)
          this.#emit('finished', '', text ?? '', now, { durationMs: Math.max(0, lastOutputAt - cmd.start) });
      }
      this.#arm(this.#src.clock());
    });
  }

  #emit(
    reason: AttentionReason,
    title: string,
    text: string,
    at: number,
    extra: { durationMs?: number; exitCode?: number } = {},
  ): void {
    if (this.#disposed) return;
    const slot = this.#slots.get(reason)!;
    const now = this.#src.clock();
    if (now < slot.until) {
      // Within the window: hold the latest one back (cheap for a flood), sent when the window ends.
      if (slot.held === undefined || reason !== 'bell')
        slot.held = this.#event(reason, title, text, at, extra);
      if (slot.timer === undefined) {
        slot.timer = setTimeout(() => this.#release(slot), slot.until - now);
        slot.timer.unref?.();
      }
      return;
    }
    slot.until = now + this.#tuning.coalesceMs;
    this.#deliver(this.#event(reason, title, text, at, extra));
  }

  #release(slot: Slot): void {
    slot.timer = undefined;
    const held = slot.held;
    slot.held = undefined;
    if (!held || this.#disposed) return;
    slot.until = this.#src.clock() + this.#tuning.coalesceMs;
    this.#deliver(held);
  }

  #event(
    reason: AttentionReason,
    title: string,
    text: string,
    at: number,
    extra: { durationMs?: number; exitCode?: number },
  ): AttentionEvent {
    return {
      session: this.#src.session,
      reason,
      at,
      watched: this.#src.watched(),
      title: cleanText(title || this.#src.title(), MAX_ALERT_TITLE),
      text: cleanText(text, MAX_ALERT_BODY),
      ...(extra.durationMs !== undefined ? { durationMs: extra.durationMs } : {}),
      ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
    };
  }

  #deliver(event: AttentionEvent): void {
    try {
      this.#src.listener(event);
    } catch (err) {
      // A listener's failure must not break the session's parser: reported as a process warning.
      process.emitWarning(err instanceof Error ? err : String(err), 'AttentionListenerWarning');
    }
  }
}
