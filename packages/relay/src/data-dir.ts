/**
 * The relay's data folder and database files, kept private: the folder is
 * made 0700, a folder that group or others can write is refused
 * (`data_insecure`: whoever can write it can swap the database), and the
 * database file is created 0600 before SQLite opens it — SQLite gives its
 * `-wal` and `-shm` files the database file's mode — and tightened to 0600
 * (with its `-wal`/`-shm`) when an older relay left it looser.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RelayError } from './errors.ts';
import { DATABASE_FILE, SqliteStore } from './sqlite-store.ts';

/** Makes (0700) and checks the data folder; throws `data_insecure` when group or others can write it. */
export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const s = statSync(dataDir);
  if (!s.isDirectory()) throw new RelayError('data_insecure', `${dataDir} is not a folder`);
  if ((s.mode & 0o022) !== 0) {
    throw new RelayError(
      'data_insecure',
      `${dataDir} is writable by group or others (mode ${(s.mode & 0o777).toString(8)}); run chmod 700 on it`,
    );
  }
}

/** Creates the database file 0600 if missing, and tightens it and its `-wal`/`-shm` to 0600. */
export function privateDatabaseFiles(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Prepares the data folder and opens the store in it (the relay CLI and `pocketshell up`). */
export function openDataStore(dataDir: string): SqliteStore {
  prepareDataDir(dataDir);
  const path = join(dataDir, DATABASE_FILE);
  privateDatabaseFiles(path);
  return new SqliteStore(path);
}
