import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.js';
import {
  DEFAULT_DELETE_THRESHOLD,
  allowedDeletions,
  checkSweep,
  storedEnoughFor,
  deleteThresholdExceeded,
  describeDeleteThreshold,
  globalDeleteThresholds,
  parseDeleteProtectionSettings,
  resolveDeleteThreshold,
  type DeleteProtectionSettings,
} from '../../domain/delete-protection.js';
import { parseSettings } from '../../domain/settings.js';

function problemsOf(input: unknown): { field: string; message: string }[] {
  try {
    parseDeleteProtectionSettings(input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).problems;
  }
}

describe('allowedDeletions', () => {
  it('defaults to the larger of 10 objects and 5 %', () => {
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 0)).toBe(10);
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 100)).toBe(10);
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 200)).toBe(10);
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 219)).toBe(10);
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 220)).toBe(11);
    expect(allowedDeletions(DEFAULT_DELETE_THRESHOLD, 10_000)).toBe(500);
  });

  it('uses a count alone as a fixed cap and a percent alone as a share, rounded down', () => {
    expect(allowedDeletions({ count: 3 }, 1_000_000)).toBe(3);
    expect(allowedDeletions({ count: 0 }, 50)).toBe(0);
    expect(allowedDeletions({ percent: 5 }, 30)).toBe(1);
    expect(allowedDeletions({ percent: 5 }, 19)).toBe(0);
    expect(allowedDeletions({ percent: 29 }, 100)).toBe(29);
    expect(allowedDeletions({ percent: 2.5 }, 200)).toBe(5);
    expect(allowedDeletions({ percent: 100 }, 1234)).toBe(1234);
    expect(allowedDeletions({ percent: 0 }, 1234)).toBe(0);
  });

  it('takes the larger allowance when both are set', () => {
    expect(allowedDeletions({ count: 50, percent: 1 }, 1000)).toBe(50);
    expect(allowedDeletions({ count: 5, percent: 10 }, 1000)).toBe(100);
  });

  it('refuses a stored count that is not a whole number of 0 or more', () => {
    expect(() => allowedDeletions({ count: 1 }, -1)).toThrow(RangeError);
    expect(() => allowedDeletions({ count: 1 }, 1.5)).toThrow(/storedCount/);
  });
});

describe('checkSweep', () => {
  it('allows deleting exactly the limit and stops one more', () => {
    expect(checkSweep({ count: 10 }, { storedCount: 100, wouldDelete: 10 })).toEqual({
      allowed: true,
      limit: 10,
    });
    expect(checkSweep({ count: 10 }, { storedCount: 100, wouldDelete: 11 })).toEqual({
      allowed: false,
      limit: 10,
    });
    expect(checkSweep({ count: 10 }, { storedCount: 100, wouldDelete: 0 }).allowed).toBe(true);
  });

  it('stops half the users of a tenant going under the default threshold', () => {
    const check = checkSweep(DEFAULT_DELETE_THRESHOLD, { storedCount: 400, wouldDelete: 200 });
    expect(check).toEqual({ allowed: false, limit: 20 });
  });

  it('refuses a negative number of deletions', () => {
    expect(() => checkSweep({ count: 1 }, { storedCount: 1, wouldDelete: -1 })).toThrow(/wouldDelete/);
  });
});

describe('storedEnoughFor', () => {
  it('is the smallest stored count that allows the sweep, so counting further cannot change the decision', () => {
    for (const threshold of [
      DEFAULT_DELETE_THRESHOLD,
      { percent: 5 },
      { percent: 29 },
      { count: 3, percent: 7 },
      { percent: 100 },
    ])
      for (const wouldDelete of [1, 11, 50, 99, 1234]) {
        const enough = storedEnoughFor(threshold, wouldDelete);
        expect(enough, `${JSON.stringify(threshold)} ${wouldDelete}`).toBeDefined();
        expect(checkSweep(threshold, { storedCount: enough!, wouldDelete }).allowed).toBe(true);
        if (enough! > 0)
          expect(checkSweep(threshold, { storedCount: enough! - 1, wouldDelete }).allowed).toBe(false);
      }
  });

  it('needs no count when the count part allows the sweep, and a whole count when no number is enough', () => {
    expect(storedEnoughFor(DEFAULT_DELETE_THRESHOLD, 10)).toBe(0);
    expect(storedEnoughFor(DEFAULT_DELETE_THRESHOLD, 50)).toBe(1000);
    expect(storedEnoughFor({ count: 5 }, 6)).toBeUndefined();
    expect(storedEnoughFor({ percent: 0 }, 1)).toBeUndefined();
  });
});

describe('resolveDeleteThreshold', () => {
  const settings: DeleteProtectionSettings = {
    global: { graph: { count: 100 }, teams: { percent: 20 } },
    hierarchy: {
      provider: { graph: { count: 30, percent: 3 } },
      'provider.reseller': { graph: { percent: 50 }, exchange: { count: 7 } },
    },
    tenants: { t1: { graph: { count: 1 } } },
  };
  const at = (source: 'graph' | 'teams' | 'exchange', hierarchy: string, tenantId = 'tX') =>
    resolveDeleteThreshold(settings, { source, hierarchy, tenantId });

  it('uses the default when nothing is set', () => {
    expect(resolveDeleteThreshold(undefined, { source: 'graph', hierarchy: 'sys', tenantId: 't' })).toEqual({
      count: 10,
      percent: 5,
      from: 'default',
    });
    expect(resolveDeleteThreshold({}, { source: 'teams', hierarchy: 'a.b', tenantId: 't' }).from).toBe(
      'default',
    );
    expect(at('exchange', 'other')).toEqual({ count: 10, percent: 5, from: 'default' });
  });

  it('lets the tenant beat every hierarchy place and the global setting', () => {
    expect(at('graph', 'provider.reseller.customer', 't1')).toEqual({ count: 1, from: 'tenant' });
  });

  it('takes the most specific hierarchy place', () => {
    expect(at('graph', 'provider.reseller.customer')).toEqual({
      percent: 50,
      from: 'hierarchy:provider.reseller',
    });
    expect(at('graph', 'provider.reseller')).toEqual({ percent: 50, from: 'hierarchy:provider.reseller' });
    expect(at('graph', 'provider.other')).toEqual({ count: 30, percent: 3, from: 'hierarchy:provider' });
    expect(at('exchange', 'provider.reseller.c')).toEqual({ count: 7, from: 'hierarchy:provider.reseller' });
  });

  it('does not match a place by prefix of its name, only by whole places', () => {
    expect(at('graph', 'providerX.reseller')).toEqual({ count: 100, from: 'global' });
  });

  it('falls back to the global setting per source', () => {
    expect(at('teams', 'provider.reseller.customer')).toEqual({ percent: 20, from: 'global' });
    expect(at('graph', 'elsewhere')).toEqual({ count: 100, from: 'global' });
  });

  it('replaces count and percent as a pair: a level setting one does not inherit the other', () => {
    const r = at('graph', 'provider.reseller.customer');
    expect(r.count).toBeUndefined();
    expect(allowedDeletions(r, 1000)).toBe(500);
  });

  it('returns a copy the caller cannot use to change the settings or the default', () => {
    const r = resolveDeleteThreshold(undefined, { source: 'graph', hierarchy: 'a', tenantId: 't' });
    r.count = 999;
    expect(DEFAULT_DELETE_THRESHOLD.count).toBe(10);
    const t = at('graph', 'a', 't1');
    t.count = 999;
    expect(settings.tenants?.t1?.graph?.count).toBe(1);
  });
});

describe('parseDeleteProtectionSettings', () => {
  it('accepts well-formed settings', () => {
    const input = {
      global: { graph: { count: 10, percent: 5 } },
      hierarchy: { 'provider.reseller': { teams: { percent: 12.5 } } },
      tenants: { '65f0c0ffee': { exchange: { count: 0 } } },
    };
    expect(parseDeleteProtectionSettings(input)).toEqual(input);
    expect(parseDeleteProtectionSettings({})).toEqual({});
  });

  it('names each bad field and says what is wanted', () => {
    const problems = problemsOf({
      global: { graph: { count: -1 }, teams: { percent: 101 } },
      hierarchy: { 'provider.reseller': { exchange: { count: 2.5 } }, 'bad place!': { graph: { count: 1 } } },
      tenants: { t1: { graph: {} } },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        { field: 'global.graph.count', message: 'must be a whole number of 0 or more' },
        { field: 'global.teams.percent', message: 'must be a number from 0 to 100' },
        {
          field: 'hierarchy["provider.reseller"].exchange.count',
          message: 'must be a whole number of 0 or more',
        },
        { field: 'tenants.t1.graph', message: 'must set count, percent or both' },
      ]),
    );
    expect(problems).toContainEqual({
      field: 'hierarchy["bad place!"]',
      message:
        'is not a valid name: must be a hierarchy place: dot-separated names of letters, digits, "-" and "_"',
    });
    expect(problems).toHaveLength(5);
  });

  it('refuses unknown sources and fields, naming what is expected', () => {
    const problems = problemsOf({ global: { msgraph: { count: 1 } }, tenants: { t: { graph: { max: 1 } } } });
    expect(problems).toEqual([
      { field: 'global', message: 'has unknown field(s) "msgraph" (expected graph, teams, exchange)' },
      { field: 'tenants.t.graph', message: 'has unknown field(s) "max" (expected count, percent)' },
    ]);
    expect(problemsOf({ everyone: {} })[0]).toEqual({
      field: '(delete protection)',
      message: 'has unknown field(s) "everyone" (expected global, hierarchy, tenants)',
    });
  });

  it('refuses text where a number belongs', () => {
    expect(problemsOf({ global: { graph: { count: '10' } } })).toEqual([
      { field: 'global.graph.count', message: 'must be a whole number of 0 or more' },
    ]);
  });
});

describe('globalDeleteThresholds', () => {
  const thresholds = (env: Record<string, string>) => globalDeleteThresholds(parseSettings(env));

  it('maps the names of the system we replace to graph and teams counts', () => {
    expect(
      thresholds({
        PULL_SYNC_DELETE_THRESHOLD_MSGraph: '25',
        PULL_SYNC_DELETE_THRESHOLD_MSTeamsOnline: '40',
      }),
    ).toEqual({ graph: { count: 25 }, teams: { count: 40 } });
  });

  it("prefers m365sync's own names and reads percentages", () => {
    expect(
      thresholds({
        PULL_SYNC_DELETE_THRESHOLD_MSGraph: '25',
        DELETE_THRESHOLD_GRAPH: '5',
        DELETE_THRESHOLD_EXCHANGE_PERCENT: '7.5',
        DELETE_THRESHOLD_TEAMS: '',
      }),
    ).toEqual({ graph: { count: 5 }, exchange: { percent: 7.5 } });
    expect(thresholds({})).toEqual({});
  });

  it('names every bad variable', () => {
    try {
      thresholds({ DELETE_THRESHOLD_GRAPH: '-3', DELETE_THRESHOLD_TEAMS_PERCENT: '150' });
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).problems).toEqual([
        { field: 'DELETE_THRESHOLD_GRAPH', message: 'must be a whole number of 0 or more (not "-3")' },
        { field: 'DELETE_THRESHOLD_TEAMS_PERCENT', message: 'must be a number from 0 to 100 (not "150")' },
      ]);
    }
  });
});

describe('describeDeleteThreshold and deleteThresholdExceeded', () => {
  it('describes a threshold for people', () => {
    expect(describeDeleteThreshold({ count: 10, percent: 5, from: 'default' })).toBe(
      '10 objects or 5 %, whichever is larger (from default)',
    );
    expect(describeDeleteThreshold({ count: 1 })).toBe('1 object');
    expect(describeDeleteThreshold({ percent: 2.5, from: 'hierarchy:provider' })).toBe(
      '2.5 % (from hierarchy:provider)',
    );
  });

  it('makes an operator-facing error with a stable code, the counts and what to do', () => {
    const error = deleteThresholdExceeded({
      kind: 'users',
      wouldDelete: 200,
      storedCount: 400,
      threshold: { count: 10, percent: 5, from: 'default' },
      runId: 'r42',
    });
    expect(error.code).toBe('DELETE_THRESHOLD_EXCEEDED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('would delete 200 of 400 users, more than the 20 allowed');
    expect(error.message).toContain('m365sync runs approve-deletes r42');
  });
});
