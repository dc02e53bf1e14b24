/**
 * The parameters of a run outside any grid (a W&B run, a run logged without a sweep): its
 * `config_json` object flattened to `config.<key>` (nested keys joined by dots, lists as JSON
 * text, `_`-prefixed internals left out), the names W&B ingest gives its config columns. Null when
 * there is no config object.
 *
 * @example
 * ```ts
 * configParams('{"lr":0.001,"model":{"d":64},"betas":[0.9,0.95]}');
 * // { 'config.lr': 0.001, 'config.model.d': 64, 'config.betas': '[0.9,0.95]' }
 * ```
 */
export function configParams(configJson: unknown): Record<string, string | number | boolean | null> | null {
  if (typeof configJson !== 'string' || configJson === '') return null;
  let config: unknown;
  try {
    config = JSON.parse(configJson);
  } catch {
    return null;
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return null;
  const params: Record<string, string | number | boolean | null> = {};
  const walk = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) {
        if (key.startsWith('_')) continue;
        walk(`${prefix}.${key}`, inner);
      }
    } else if (Array.isArray(value)) params[prefix] = JSON.stringify(value);
    else params[prefix] = value as string | number | boolean | null;
  };
  walk('config', config);
  return Object.keys(params).length > 0 ? params : null;
}

/**
 * A run's `params`: its grid's parameters (the `params_json` of the `grids` row its `grid_id`
 * names), else those of its `config_json` ({@link configParams}), else null.
 *
 * @example
 * ```ts
 * runParams({ grid_id: 'g1', config_json: null }, new Map([['g1', '{"lr":0.1}']])); // { lr: 0.1 }
 * ```
 */
export function runParams(
  run: Readonly<Record<string, unknown>>,
  gridParams: ReadonlyMap<string, string>,
): unknown {
  const json = typeof run.grid_id === 'string' ? gridParams.get(run.grid_id) : undefined;
  return json !== undefined ? JSON.parse(json) : configParams(run.config_json);
}
