import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The standalone file viewer: one self-contained viewer.html in web/dist.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    rollupOptions: { input: { viewer: fileURLToPath(new URL('viewer.html', import.meta.url)) } },
  },
});
