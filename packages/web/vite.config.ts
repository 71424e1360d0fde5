/**
 * Vite build of the web client: one HTML entry, hashed assets, no inline
 * scripts (the relay's CSP refuses them), output in `dist/` which the relay
 * serves. `public/` (manifest, icons) is copied as is. The service worker
 * (`src/sw.ts`) is a second build run when the first has written its
 * output: one classic script (IIFE, the protocol package bundled in) at
 * `<outDir>/sw.js`, unhashed, since the browser looks for it by that name.
 */
import { join } from 'node:path';
import { build, defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;

function serviceWorker(): Plugin {
  let outDir = join(root, 'dist');
  return {
    name: 'pocketshell-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async closeBundle() {
      await build({
        configFile: false,
        root,
        logLevel: 'error',
        build: {
          outDir,
          emptyOutDir: false,
          target: 'es2022',
          sourcemap: false,
          minify: true,
          copyPublicDir: false,
          lib: {
            entry: join(root, 'src', 'sw.ts'),
            formats: ['iife'],
            name: 'pocketshellServiceWorker',
            fileName: () => 'sw.js',
          },
        },
      });
    },
  };
}

export default defineConfig({
  root,
  base: './',
  plugins: [serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
