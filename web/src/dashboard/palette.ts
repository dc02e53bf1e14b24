// Series colours: a readable categorical palette for the first ten, then golden-angle hues so
// hundreds of runs still get distinct-ish colours without repeating the first ten.
const BASE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
];

/** The colour of the `index`-th series. */
export function seriesColor(index: number): string {
  const base = BASE[index];
  if (base) return base;
  const hue = Math.round((index * 137.508) % 360);
  return `hsl(${hue} 65% 42%)`;
}

/** `color` at `alpha` opacity (for raw curves behind smoothed ones and std bands). */
export function withAlpha(color: string, alpha: number): string {
  if (color.startsWith('#') && color.length === 7) {
    const r = Number.parseInt(color.slice(1, 3), 16);
    const g = Number.parseInt(color.slice(3, 5), 16);
    const b = Number.parseInt(color.slice(5, 7), 16);
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  if (color.startsWith('hsl(') && color.endsWith(')')) return `${color.slice(0, -1)} / ${alpha})`;
  return color;
}

/** Event-type colours, fixed for the known types so a type looks the same in every chart. */
const EVENT_COLORS: Record<string, string> = {
  rank_collapse: '#d62728',
  reexpansion: '#2ca02c',
  bifurcation: '#9467bd',
  phase_shift: '#ff7f0e',
  stability_plateau: '#17becf',
};

/** The colour of an event type (known types fixed, others hashed into the palette). */
export function eventColor(eventType: string): string {
  const known = EVENT_COLORS[eventType];
  if (known) return known;
  let hash = 0;
  for (const ch of eventType) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return seriesColor(10 + (Math.abs(hash) % 50));
}
