/**
 * Faults on demand: each is armed for a number of matching Graph requests and fires in the order given,
 * so a test says exactly what Graph does ("the second page of /users gets a 429 with Retry-After: 1").
 */
import { z } from 'zod';

export const FAULT_KINDS = [
  /** 429 Too Many Requests, with Retry-After as asked. */
  'throttle',
  /** 503 Service Unavailable. */
  'unavailable',
  /** 504 Gateway Timeout. */
  'gatewayTimeout',
  /** The connection is destroyed before any response. */
  'drop',
  /** 400 Directory_ExpiredPageToken (only on requests that carry a $skiptoken). */
  'expiredPageToken',
  /** 410 Gone on a next link (how delta and some directory calls say "start again"). */
  'gone',
  /** Every token issued so far expires, and this request gets the 401. */
  'expiredToken',
  /** A 200 page with no objects and a next link to the same position. */
  'emptyPage',
  /** 403 Authorization_RequestDenied, whatever the token's roles. */
  'forbidden',
  /** 404 Request_ResourceNotFound: what a host that is not this cloud's Graph answers for a path. */
  'notFound',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultSchema = z.object({
  kind: z.enum(FAULT_KINDS),
  /** How many matching requests it fires on (default 1). */
  times: z.number().int().positive().default(1),
  /** Graph path it applies to, e.g. `/users` (default: any Graph path). */
  path: z.string().optional(),
  /** `first`: only requests without $skiptoken; `next`: only next links; default any. */
  page: z.enum(['first', 'next', 'any']).default('any'),
  /**
   * Retry-After for throttle/unavailable/gatewayTimeout: seconds (`{ seconds }`), an HTTP date that
   * many seconds ahead (`{ dateInSeconds }`), `'empty'` (header present, no value) or `'none'`.
   */
  retryAfter: z
    .union([
      z.object({ seconds: z.number().int().nonnegative() }),
      z.object({ dateInSeconds: z.number().int().nonnegative() }),
      z.enum(['empty', 'none']),
    ])
    .default('none'),
});
export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

export class FaultPlan {
  private faults: (Fault & { left: number })[] = [];

  set(faults: FaultInput[]): void {
    this.faults = faults.map((f) => {
      const fault = faultSchema.parse(f);
      return { ...fault, left: fault.times };
    });
  }

  add(fault: FaultInput): void {
    const parsed = faultSchema.parse(fault);
    this.faults.push({ ...parsed, left: parsed.times });
  }

  /** The fault this request triggers, if any, counting it down. */
  take(graphPath: string, hasSkiptoken: boolean): Fault | undefined {
    for (const fault of this.faults) {
      if (fault.left <= 0) continue;
      if (fault.path && fault.path.toLowerCase() !== graphPath.toLowerCase()) continue;
      if (fault.page === 'first' && hasSkiptoken) continue;
      if (fault.page === 'next' && !hasSkiptoken) continue;
      if ((fault.kind === 'expiredPageToken' || fault.kind === 'gone') && !hasSkiptoken) continue;
      fault.left--;
      return fault;
    }
    return undefined;
  }

  /** Faults armed and not yet fired. */
  pending(): number {
    return this.faults.reduce((n, f) => n + f.left, 0);
  }
}
