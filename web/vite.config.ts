import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard, served by `runlake serve` from web/dist. The standalone file viewer is built
// separately (vite.viewer.config.ts) into one self-contained HTML file next to it.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { index: fileURLToPath(new URL('index.html', import.meta.url)) } },
  },
});
