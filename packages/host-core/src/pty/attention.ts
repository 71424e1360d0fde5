/**
 * Terminal attention (issue 16, docs/host.md "Alerts"): what a session's
 * output says about needing a person — BEL, OSC 9 / OSC 777 notifications,
 * a long command finishing (OSC 133 where the shell emits it, otherwise
 * output gone quiet after input while nobody watched), a prompt waiting for
 * input while nobody watches. Sessions report raw events with what they
 * measured; the alert center (alerts/center.ts) applies the settings
 * (`AttentionSettings`), mutes and snoozes, and words the alert.
 */
import type { AttentionReason } from '@pocketshell/protocol';

/** One attention event of one session. */
export interface AttentionEvent {
  /** The session's id. */
  readonly session: string;
  readonly reason: AttentionReason;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** True while at least one device is attached (a watched session rarely needs a push). */
  readonly watched: boolean;
  /** OSC 777's title, or the session's title/name; may be empty. */
  readonly title: string;
  /** OSC 9 / 777 text, the prompt line, or the finished command; may be empty. Control characters removed, capped. */
  readonly text: string;
  /** `finished`: how long the command ran, in milliseconds. */
  readonly durationMs?: number;
  /** `finished` with OSC 133;D: the command's exit status when the shell gave it. */
  readonly exitCode?: number;
}

/** Hears attention events (SessionManager option `onAttention`). */
export type AttentionListener = (event: AttentionEvent) => void;
