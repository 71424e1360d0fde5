/**
 * `npm run build:web`: builds the web client (packages/web → packages/web/dist)
 * with Vite, swapping the new build in with one rename so a relay serving it
 * meanwhile never sees half a build. `npm start` and `npm run package` build
 * it by themselves; this is for a relay started with `pocketshell-relay`.
 */
import { buildWebClient, bundledWebRoot } from '@pocketshell/relay';

const root = bundledWebRoot();
await buildWebClient(root);
process.stdout.write(`web client built in ${root}\n`);
