// The runs table's first load. On a lake of many runs the server reads the runs table once when
// it starts (then answers from memory); a page opened during that read may get a 503 saying the
// read goes on. The table then says so and asks again, instead of showing an error.
import { ApiError, api, type RunsResponse } from './api.js';
import { showLoading } from './states.js';

/** How often a 503 is met with another try before it is shown as the error it is. */
const RUNS_ATTEMPTS = 6;

/**
 * `GET /api/runs`, asked again (after `waitMs`, with a loading note in `panel`) while the server
 * answers 503 (it is still reading the runs, or its query process is restarting); any other
 * error, or a 503 after {@link RUNS_ATTEMPTS} tries, is thrown.
 *
 * @example
 * ```ts
 * const { runs } = await runsWhenReady(section);
 * ```
 */
export async function runsWhenReady(
  panel: HTMLElement,
  fetchRuns: () => Promise<RunsResponse> = () => api.runs(),
  waitMs = 1_000,
): Promise<RunsResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchRuns();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 503 || attempt >= RUNS_ATTEMPTS) throw error;
      showLoading(panel, 'runs: the server is still reading this lake’s runs table');
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
