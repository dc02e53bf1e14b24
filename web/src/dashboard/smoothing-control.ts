// The smoothing slider: TensorBoard-style EMA weight in [0, 0.99]. The server applies it before
// downsampling, so the slider only sends the weight; changes are debounced so dragging the slider
// does not fire a request per pixel.
import { h } from './dom.js';

export interface SmoothingControl {
  readonly element: HTMLElement;
  value(): number;
  showRaw(): boolean;
}

/** A slider (0–0.99) with its value, and a "raw behind" toggle; `onChange` fires debounced. */
export function smoothingControl(initial: number, onChange: () => void): SmoothingControl {
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
  const raw = h('input', { type: 'checkbox', 'data-testid': 'smoothing-raw' });
  raw.checked = true;
  let timer: number | undefined;
  slider.addEventListener('input', () => {
    shown.textContent = Number(slider.value).toFixed(2);
    window.clearTimeout(timer);
    timer = window.setTimeout(onChange, 200);
  });
  raw.addEventListener('change', onChange);
  const element = h(
    'div',
    { class: 'control smoothing', title: 'Exponential moving average, as in TensorBoard: 0 is off' },
    h('label', {}, 'Smoothing ', slider, shown),
    h('label', { class: 'inline', title: 'Draw the unsmoothed curve faintly behind' }, raw, ' raw'),
  );
  return {
    element,
    value: () => Number(slider.value),
    showRaw: () => raw.checked,
  };
}
