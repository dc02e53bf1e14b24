// Saving something the page made (a chart, a table, a query answer) as a file download.

/**
 * Saves `blob` as a download named `name`.
 *
 * @example
 * ```ts
 * downloadBlob(new Blob(['a,b\n'], { type: 'text/csv' }), 'runs.csv');
 * ```
 */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  // Chromium reads the blob when the click is handled; revoke once it has.
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
