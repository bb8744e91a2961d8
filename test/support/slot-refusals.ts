/**
 * Knowing that a process waits for a leased Redis slot (connectors/winrm/fleet-shell-slots.ts), instead
 * of guessing it after a sleep: wraps the Redis client it asks with, and counts the asks for `key`
 * that Redis refused (the ACQUIRE script answered 0). Two refusals: the waiter is past its first try.
 */
import type { Redis } from 'ioredis';

export function countSlotRefusals(redis: Redis, key: string): () => number {
  let refusals = 0;
  const evaluate = redis.eval.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  (redis as unknown as { eval: typeof evaluate }).eval = async (...args) => {
    const answer = await evaluate(...args);
    // eval(script, numberOfKeys, key, …)
    if (args[2] === key && answer === 0) refusals++;
    return answer;
  };
  return () => refusals;
}
