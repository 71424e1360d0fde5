/**
 * A files root for tests: a temporary folder holding `home` (the root and
 * the home the deny list is under, with its trash), `outside` (beside the
 * root: nothing may ever reach it) and `state` (the host's state folder,
 * denied, holding a real audit log); the entry operations served directly
 * with a `ChannelContext` built from that audit log. Requests and results
 * go through the protocol's parsers, as on the wire.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type DeviceId,
  FILES_METHODS,
  type FilesMethods,
  type Grant,
  type ParamsOf,
  type ResultOf,
} from '@pocketshell/protocol';
import { type AuditEntry, AuditLog } from '../src/audit/audit-log.ts';
import { FileRoot } from '../src/files/confine.ts';
import { DEFAULT_OPS_LIMITS, fileOps, type OpsLimits, type OpsMethod } from '../src/files/ops.ts';
import type { ChannelContext } from '../src/host/channels.ts';

/** The device the fixture serves. */
export const TEST_DEVICE = 'd_filesfixture' as DeviceId;

/** What a test uses. */
export interface FilesFixture {
  readonly base: string;
  readonly home: string;
  readonly outside: string;
  readonly state: string;
  readonly root: FileRoot;
  readonly audit: AuditLog;
  /** Calls a method as the channel would: params parsed, result checked. */
  call<K extends OpsMethod>(method: K, params: unknown): Promise<ResultOf<FilesMethods, K>>;
  /** The audit log's entries so far. */
  audited(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

/** Makes the folders and serves the operations. */
export async function filesFixture(
  opts: {
    limits?: OpsLimits;
    grants?: Grant[];
    /** Where to make the folder (default: the OS's temporary folder). */
    tmp?: string;
  } = {},
): Promise<FilesFixture> {
  const base = await fs.realpath(await fs.mkdtemp(path.join(opts.tmp ?? os.tmpdir(), 'ps-files-')));
  const home = path.join(base, 'home');
  const outside = path.join(base, 'outside');
  const state = path.join(base, 'state');
  for (const d of [home, outside]) await fs.mkdir(d, { recursive: true });
  await fs.mkdir(state, { mode: 0o700 });
  const auditFile = path.join(state, 'audit.jsonl');
  const audit = AuditLog.open(auditFile);
  const root = await FileRoot.open({ root: home, home, deny: [state] });
  const grants = new Set<Grant>(opts.grants ?? ['files:read', 'files:write']);
  const ctx = {
    device: TEST_DEVICE,
    audit,
    grants: () => grants,
    refuse: () => undefined,
  } as unknown as ChannelContext;
  const ops = fileOps(ctx, root, opts.limits ?? DEFAULT_OPS_LIMITS);
  return {
    base,
    home,
    outside,
    state,
    root,
    audit,
    async call(method, params) {
      const spec = FILES_METHODS[method];
      const parsed = spec.params(params) as ParamsOf<FilesMethods, typeof method>;
      const handler = ops[method] as (p: typeof parsed, id: number) => unknown;
      const result = await handler(parsed, 1);
      return spec.result(JSON.parse(JSON.stringify(result))) as ResultOf<FilesMethods, typeof method>;
    },
    async audited() {
      const text = await fs.readFile(auditFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as AuditEntry);
    },
    async close() {
      audit.close();
      await fs.rm(base, { recursive: true, force: true });
    },
  };
}
