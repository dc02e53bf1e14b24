import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

/**
 * parquet-wasm's init falls back to `new URL('parquet_wasm_bg.wasm', import.meta.url)`, which Vite
 * would inline as a second 6.6 MB copy of the module. The viewer always passes the bytes it
 * imported with `?url&inline`, so the fallback is cut out.
 */
function dropParquetWasmUrlFallback(): Plugin {
  return {
    name: 'runlake:drop-parquet-wasm-url-fallback',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('parquet-wasm') || !id.endsWith('parquet_wasm.js')) return null;
      const fallback = "new URL('parquet_wasm_bg.wasm', import.meta.url)";
      if (!code.includes(fallback)) return null;
      return { code: code.replace(fallback, 'undefined'), map: null };
    },
  };
}

// The standalone file viewer: one self-contained viewer.html in web/dist. Everything (JS, CSS and
// parquet-wasm's .wasm bytes) is inlined, because a page opened from file:// may not load module
// scripts or fetch sibling files. The dashboard build (vite.config.ts) runs first and empties
// dist/, so this one must not.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  plugins: [dropParquetWasmUrlFallback(), viteSingleFile({ removeViteModuleLoader: true })],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    // The inlined wasm makes one ~7 MB chunk by design.
    chunkSizeWarningLimit: 12_000,
    rollupOptions: { input: { viewer: fileURLToPath(new URL('viewer.html', import.meta.url)) } },
  },
});
