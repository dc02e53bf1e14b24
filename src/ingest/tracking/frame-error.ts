import { RunlakeError } from '../../lake/errors.js';

/**
 * A frame that breaks the wire format, with the byte offset or header field that is wrong.
 *
 * @example
 * ```ts
 * try { decodeFrame(bytes); } catch (e) { if (e instanceof FrameError) console.log(e.message); }
 * ```
 */
export class FrameError extends RunlakeError {
  override readonly name = 'FrameError';
}
