/**
 * Vite build of the web client: one HTML entry, hashed assets, no inline
 * scripts (the relay's CSP refuses them), output in `dist/` which the relay
 * serves. `public/` (manifest, service worker, icons) is copied as is.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
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
