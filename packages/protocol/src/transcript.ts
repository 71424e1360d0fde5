/**
 * Transcripts: the only bytes PocketShell signs or binds as AAD.
 * `tr(label, f1, f2, …) = utf8(label) ‖ for each field: u32be(len(f)) ‖ f`,
 * with strings as UTF-8 and integers as their decimal string (docs/protocol.md §1).
 * Never JSON, so two encoders can never disagree about what was signed.
 */
import { concat, i2osp, utf8 } from './bytes.ts';

/** One transcript field: raw bytes, a UTF-8 string, or a safe integer. */
export type TranscriptField = Uint8Array | string | number;

/** Versioned transcript labels, one per purpose. */
export const LABELS = {
  relayAuth: 'pocketshell/relay-auth/v1',
  pair: 'pocketshell/pair/v1',
  pairAccept: 'pocketshell/pair-accept/v1',
  pairConfirm: 'pocketshell/pair-confirm/v1',
  sas: 'pocketshell/sas/v1',
  seal: 'pocketshell/seal/v1',
  sealAad: 'pocketshell/seal-aad/v1',
  sdp: 'pocketshell/sdp/v1',
  link: 'pocketshell/link/v1',
  linkExport: 'pocketshell/link-export/v1',
  linkKey: 'pocketshell/link-key/v1',
  linkAad: 'pocketshell/link-aad/v1',
} as const;

function fieldBytes(field: TranscriptField): Uint8Array {
  if (field instanceof Uint8Array) return field;
  if (typeof field === 'string') return utf8(field);
  if (!Number.isSafeInteger(field)) throw new RangeError(`tr: field ${field} is not a safe integer`);
  return utf8(String(field));
}

/** Builds the transcript bytes for `label` and `fields`. */
export function tr(label: string, ...fields: TranscriptField[]): Uint8Array {
  const parts: Uint8Array[] = [utf8(label)];
  for (const f of fields) {
    const b = fieldBytes(f);
    parts.push(i2osp(b.length, 4), b);
  }
  return concat(...parts);
}
