/**
 * A failure the code lets go on purpose says why: `promise.catch(ignoreBecause('why', log))` still
 * swallows it (the promise resolves to undefined, as `.catch(() => undefined)` did), and with a logger
 * at hand logs it at debug with the reason, so whoever chases a problem sees what was let go.
 *
 * In domain/ because every folder may import it (queues/ and the stores have no logger of their own);
 * it takes any logger with pino's `debug(object, message)` shape and imports none.
 */

/** The part of a logger this needs (a pino Logger has it). */
export interface DebugLogger {
  debug(details: object, message: string): void;
}

/**
 * A rejection handler that ignores the failure because of `why`, logged at debug on `log` when one is
 * given (the error's message only, as the engine logs errors elsewhere: never its properties).
 */
export function ignoreBecause(why: string, log?: DebugLogger): (error: unknown) => undefined {
  return (error) => {
    log?.debug(
      { err: { message: error instanceof Error ? error.message : String(error) }, because: why },
      'failure ignored',
    );
    return undefined;
  };
}
