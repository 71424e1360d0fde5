/**
 * The `files` channel's transfers (issue 15): `files.read`,
 * `files.download` and `files.tail` send data frames paced by the
 * device's acks (`ChunkSender`); uploads receive them (`ChunkReceiver`)
 * into a temporary file in the target folder, checked by SHA-256, fsynced
 * and renamed into place; `files.cancel` ends a pending one. Memory stays
 * flat for any file size: at most `FILES_WINDOW` bytes per transfer are in
 * flight.
 */
import { type FilesMethods, type Handlers, ProtocolError } from '@pocketshell/protocol';
import type { ChannelContext } from '../host/channels.ts';
import type { FileRoot } from './confine.ts';

/** The methods served here. */
export type TransferMethod =
  | 'files.read'
  | 'files.download'
  | 'files.tail'
  | 'files.cancel'
  | 'files.upload.begin'
  | 'files.upload.finish'
  | 'files.upload.cancel';

/** Caps on transfers. */
export interface TransferLimits {
  /** Transfers (reads, downloads, tails, uploads) one device may run at once, over all its channels. */
  readonly perDevice: number;
}

/** Default caps. */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = { perDevice: 8 };

/** How transfers reach the channel. */
export interface TransferIO {
  /** Sends one binary frame (dropped when the channel is closed). */
  send(frame: Uint8Array): void;
  /** True while the channel is open. */
  open(): boolean;
}

const todo = (): never => {
  throw new ProtocolError('unsupported', 'not built yet');
};

/** The transfers of one channel. */
export class Transfers {
  readonly #ctx: ChannelContext;
  readonly #root: FileRoot;
  readonly #limits: TransferLimits;
  readonly #io: TransferIO;

  constructor(ctx: ChannelContext, root: FileRoot, limits: TransferLimits, io: TransferIO) {
    this.#ctx = ctx;
    this.#root = root;
    this.#limits = limits;
    this.#io = io;
  }

  /** The handlers (`send` sends an RPC text message: events of a pending request). */
  handlers(_send: (text: string) => void): Pick<Handlers<FilesMethods, number>, TransferMethod> {
    void this.#ctx;
    void this.#root;
    void this.#limits;
    void this.#io;
    return {
      'files.read': todo,
      'files.download': todo,
      'files.tail': todo,
      'files.cancel': todo,
      'files.upload.begin': todo,
      'files.upload.finish': todo,
      'files.upload.cancel': todo,
    };
  }

  /** A data frame of an upload. */
  data(_id: number, _offset: number, _bytes: Uint8Array): void {
    throw new ProtocolError('bad_message', 'no such upload');
  }

  /** An ack of a read, download or tail (a late one, for a finished transfer, is ignored). */
  ack(_id: number, _offset: number): void {}

  /** The channel closed: pending transfers end, open uploads keep their temporary file for a resume. */
  close(): void {}
}
