/**
 * The `files` channel's operations on entries (issue 15): info, list,
 * stat, mkdir, rename, move, copy, delete (to the trash), search — each
 * confined to the device's root (confine.ts), writes audited.
 */
import { type FilesMethods, type Handlers, ProtocolError } from '@pocketshell/protocol';
import type { ChannelContext } from '../host/channels.ts';
import type { FileRoot } from './confine.ts';

/** The methods served here. */
export type OpsMethod =
  | 'files.info'
  | 'files.list'
  | 'files.stat'
  | 'files.mkdir'
  | 'files.rename'
  | 'files.move'
  | 'files.copy'
  | 'files.delete'
  | 'files.search';

const todo = (): never => {
  throw new ProtocolError('unsupported', 'not built yet');
};

/** The handlers, for one channel of one device. */
export function fileOps(
  ctx: ChannelContext,
  root: FileRoot,
): Pick<Handlers<FilesMethods, number>, OpsMethod> {
  return {
    'files.info': () => ({
      root: root.root,
      write: ctx.grants().has('files:write'),
      home: root.home,
    }),
    'files.list': todo,
    'files.stat': todo,
    'files.mkdir': todo,
    'files.rename': todo,
    'files.move': todo,
    'files.copy': todo,
    'files.delete': todo,
    'files.search': todo,
  };
}
