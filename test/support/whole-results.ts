/**
 * Preloaded by `npm run test:unit` (`--import`), in the runner and in each
 * test file's child process: makes stdout blocking when it is a pipe.
 *
 * Each file's child streams its results to the runner over a pipe, and
 * `--test-force-exit` ends the child with `process.exit()` once its tests are
 * done; on Linux pipe writes are asynchronous, so the last results could be
 * cut off and the summary count fewer tests than ran, exit 0 (nodejs/node
 * #64833; seen here as 1005 of 1026 tests). A blocking pipe has written every
 * result before the exit.
 */
const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
if (!process.stdout.isTTY) handle?.setBlocking?.(true);
