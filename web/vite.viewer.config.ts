import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

const WASM_MODULE_ID = 'virtual:parquet-wasm-gzip';

/**
 * `virtual:parquet-wasm-gzip`: parquet-wasm's .wasm, gzipped and base64-encoded, as the module's
 * default export. Gzip shrinks the 4.9 MB module to 1.7 MB, so the page is a third the size to
 * load and parse; the browser inflates it with DecompressionStream while compiling it.
 */
function inlineParquetWasm(): Plugin {
  const resolved = `\0${WASM_MODULE_ID}`;
  return {
    name: 'runlake:inline-parquet-wasm',
    resolveId: (id) => (id === WASM_MODULE_ID ? resolved : null),
    load(id) {
      if (id !== resolved) return null;
      const wasm = readFileSync(
        createRequire(import.meta.url).resolve('parquet-wasm/esm/parquet_wasm_bg.wasm'),
      );
      return `export default ${JSON.stringify(gzipSync(wasm, { level: 9 }).toString('base64'))};`;
    },
  };
}

/**
 * parquet-wasm's init falls back to `new URL('parquet_wasm_bg.wasm', import.meta.url)`, which Vite
 * would inline as a second 6.6 MB copy of the module. The viewer always passes the module it
 * inlined (inlineParquetWasm), so the fallback is cut out.
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
  plugins: [
    inlineParquetWasm(),
    dropParquetWasmUrlFallback(),
    viteSingleFile({ removeViteModuleLoader: true }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    // The inlined wasm makes one ~3 MB chunk by design.
    chunkSizeWarningLimit: 4_000,
    rollupOptions: { input: { viewer: fileURLToPath(new URL('viewer.html', import.meta.url)) } },
  },
});
