import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

// The dashboard, served by `runlake serve` from web/dist. It is built as one self-contained
// index.html (JS and CSS inlined): a server started with --token wants the token on every request,
// static files included, and a page opened as /?token=T passes it only on its own URL, not on the
// relative asset URLs it would load. One file needs the token once; API calls then carry it as a
// bearer header. The standalone file viewer is built separately (vite.viewer.config.ts) next to it.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  plugins: [viteSingleFile({ removeViteModuleLoader: true })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { index: fileURLToPath(new URL('index.html', import.meta.url)) } },
  },
});
