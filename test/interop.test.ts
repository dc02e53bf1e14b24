import fs from 'node:fs';
import { it } from 'vitest';
import { openLake, writeEventRows } from '../src/index.js';

it('explore', async () => {
  const base = '/tmp/exp/lake6';
  fs.rmSync(base, { recursive: true, force: true });
  await writeEventRows([{ seed: 1, step: 1, score: 1 }], base, { g: 1 });
  await writeEventRows([{ seed: 1, step: 2, score: 1.5, extra: 'x' }], base, { g: 2 });
  const lake = await openLake(base);
  console.log(JSON.stringify(await lake.query('SELECT * FROM events ORDER BY step')));
  lake.close();
});
