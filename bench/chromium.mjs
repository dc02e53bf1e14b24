// Debian's Chromium for the browser benchmarks and tests (test/helpers/browser.ts imports this;
// chromium.d.mts types it).

/** `$RUNLAKE_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env.RUNLAKE_CHROMIUM?.trim() || '/usr/bin/chromium';

/**
 * Headless and offline: without the background-networking flags Chromium keeps dialling Google
 * on this closed network and stalls.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
