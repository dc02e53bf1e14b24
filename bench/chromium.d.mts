/** `$RUNLAKE_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export declare const CHROMIUM_PATH: string;
/** Headless and offline launch flags for Chromium on a closed network. */
export declare const CHROMIUM_FLAGS: readonly string[];
