// The smoothing controls: a strength slider in [0, 0.99], the kind (TensorBoard's EMA, a gaussian
// kernel, a running average) and a "raw behind" toggle. The server smooths before downsampling,
// so these only send the strength and kind; slider changes are debounced so dragging does not
// fire a request per pixel. The raw toggle means nothing without smoothing, so it is hidden at 0.
import { h, selectOf } from './dom.js';
import type { SmoothingKind } from './panel-state.js';

/** The smoothing kinds offered, with their labels. */
export const SMOOTHING_KINDS: readonly (readonly [SmoothingKind, string])[] = [
  ['ema', 'EMA'],
  ['gaussian', 'Gaussian'],
  ['running_average', 'Running average'],
];

export interface SmoothingControl {
  readonly element: HTMLElement;
  value(): number;
  kind(): SmoothingKind;
  showRaw(): boolean;
  /** Sets the controls without calling `onChange`. */
  set(state: { smoothing?: number; smoothingKind?: SmoothingKind; showRaw?: boolean }): void;
}

/**
 * A slider (0–0.99) with its value, a kind picker and a "raw behind" toggle (shown only when
 * smoothing is on); `onChange` fires (debounced for the slider) on a user change. `kinds: false`
 * hides the kind picker, for a source that smooths with EMA only.
 *
 * @example
 * ```ts
 * const smoothing = smoothingControl(0, () => reload());
 * toolbar.append(smoothing.element);
 * smoothing.set({ smoothing: 0.6, smoothingKind: 'gaussian' });
 * ```
 */
export function smoothingControl(
  initial: number,
  onChange: () => void,
  options: { readonly kinds?: boolean } = {},
): SmoothingControl {
  const slider = h('input', {
    type: 'range',
    min: 0,
    max: 0.99,
    step: 0.01,
    value: initial,
    'aria-label': 'Smoothing',
    'data-testid': 'smoothing-slider',
  });
  const shown = h(
    'output',
    { class: 'smoothing-value', 'data-testid': 'smoothing-value' },
    initial.toFixed(2),
  );
  const kind = selectOf(
    SMOOTHING_KINDS.map(([k, label]) => [k, label] as const),
    'ema',
    { 'data-testid': 'smoothing-kind', 'aria-label': 'Smoothing kind' },
  );
  // A source that smooths only one way (the sweep's curves: EMA) offers no kind picker.
  kind.hidden = options.kinds === false;
  const raw = h('input', { type: 'checkbox', 'data-testid': 'smoothing-raw' });
  raw.checked = true;
  const rawLabel = h(
    'label',
    { class: 'inline smoothing-raw', title: 'Draw the unsmoothed curve faintly behind' },
    raw,
    ' raw',
  );
  const sync = () => {
    const on = Number(slider.value) > 0;
    shown.textContent = Number(slider.value).toFixed(2);
    rawLabel.hidden = !on;
    raw.disabled = !on;
    kind.disabled = !on;
  };
  sync();
  let timer: number | undefined;
  slider.addEventListener('input', () => {
    sync();
    window.clearTimeout(timer);
    timer = window.setTimeout(onChange, 200);
  });
  raw.addEventListener('change', onChange);
  kind.addEventListener('change', onChange);
  const element = h(
    'div',
    {
      class: 'control smoothing',
      title:
        'Smoothing strength (0 is off) and kind: EMA as in TensorBoard, a gaussian kernel, or a running average',
    },
    h('label', {}, 'Smoothing ', slider, shown),
    kind,
    rawLabel,
  );
  return {
    element,
    value: () => Number(slider.value),
    kind: () => kind.value as SmoothingKind,
    showRaw: () => raw.checked,
    set(state) {
      if (state.smoothing !== undefined) slider.value = String(state.smoothing);
      if (state.smoothingKind !== undefined) kind.value = state.smoothingKind;
      if (state.showRaw !== undefined) raw.checked = state.showRaw;
      sync();
    },
  };
}
