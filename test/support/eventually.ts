/**
 * Waiting on state instead of sleeping: poll a check until it holds, or fail after a deadline. A test
 * that needs something to have happened asks whether it has, so a loaded machine only makes it slower,
 * never red. (Under vitest's fake timers the poll's own timer does not fire: move the fake time instead.)
 */

/** How often a check is polled. Short: the wait is as long as the state takes, not a fixed time. */
const POLL_MS = 50;

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
