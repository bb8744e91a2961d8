/**
 * The Graph part of a delta run (docs/delta.md): licences polled in full (subscribedSkus has no
 * delta), then users and groups by delta rounds from their saved states, teams from the groups' round.
 *
 * A round's objects are partial: each is merged into its stored version (domain/delta.ts) and written
 * through the run's writer, which records only what really changed. What the round removed is swept
 * when the round is whole, behind delete protection, as a full pull's sweep. A round is idempotent
 * and applies duplicates and replays harmlessly; within a round the last word on an object wins.
 *
 * A kind whose state cannot be used (none, unreadable, other `$select`, too old, the tenant's users
 * filter) or that Graph refuses (400 syncStateNotFound, 410 Gone) is pulled in full in the same run,
 * seeding a new state; its result says why. The state moves on only once the kind's round was applied
 * and written, behind the run's fence.
 */
import type { Logger } from 'pino';
import {
  DELTA_SELECT,
  GROUP_SELECT,
  TEAM_SELECT,
  USER_SELECT,
  type DeltaKind,
  type GraphConnector,
  type GraphKind,
} from '../../connectors/graph/index.js';
import { fallbackMessage, mergeDelta, unusableState, type DeltaFallbackReason } from '../../domain/delta.js';
import { SyncError } from '../../domain/errors.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import type { TenantConfig } from '../../domain/tenant.js';
import { graphEndpoints } from '../../domain/cloud.js';
import { deltaMetrics } from '../delta-metrics.js';
import type { RunContext } from '../processor.js';
import {
  pullKindSeeded,
  pullLicences,
  usersView,
  type DeltaSeeding,
  type DeltaStates,
} from './graph-step.js';
import type { KindRun } from './kind-run.js';

export interface DeltaStepOptions {
  graph: GraphConnector;
  /** The run's Graph kinds (of licences, users, groups, teams). */
  kinds: readonly GraphKind[];
  start: (kind: string) => KindRun;
  states: DeltaStates;
  /** The run's writes of the kinds, for merging: the stored data of the objects a page names. */
  ctx: Pick<RunContext, 'storedData' | 'namedOnly' | 'prepare'>;
  tenant: TenantConfig;
  signal: AbortSignal;
  log: Logger;
}

const SELECTED: Record<DeltaKind, readonly string[]> = { users: USER_SELECT, groups: GROUP_SELECT };

const isTeam = (group: Record<string, unknown>) =>
  Array.isArray(group.resourceProvisioningOptions) && group.resourceProvisioningOptions.includes('Team');

/** A team as the full pull lists it: the group's team properties. */
const teamOf = (group: Record<string, unknown>) =>
  Object.fromEntries(TEAM_SELECT.map((p) => [p, group[p] ?? null]));

const isDeltaRefusal = (error: unknown): DeltaFallbackReason | undefined =>
  error instanceof SyncError
    ? error.code === 'DELTA_TOKEN_EXPIRED'
      ? 'expired'
      : error.code === 'DELTA_RESYNC_REQUIRED'
        ? 'resync'
        : undefined
    : undefined;

export async function runDeltaSteps(options: DeltaStepOptions): Promise<void> {
  const { graph, kinds, start, states, signal } = options;
  const usersFiltered = Boolean(options.tenant['Sync Filters']?.graph_users_filter);
  const seeding: DeltaSeeding = { states, usersFiltered, log: options.log };
  const skus = kinds.includes('licences') ? await pullLicences(graph, start('licences'), signal) : undefined;
  const view = usersView(skus);
  const now = Date.now();
  const graphOrigin = new URL(graphEndpoints(options.tenant).graphBaseUrl).origin;
  /** The link a kind's round starts from, or why the kind is pulled in full. */
  const stateOf = async (kind: GraphKind, source: DeltaKind) => {
    const read = await states.read(kind);
    const reason = unusableState(read, { select: DELTA_SELECT[source], graphOrigin }, now);
    return reason ? { reason } : { link: read.state!.link };
  };

  /** The kind pulled in full instead of by a round, saying why. */
  const fullInstead = async (kind: GraphKind, run: KindRun, reason: DeltaFallbackReason) => {
    run.annotations.sync = 'full';
    run.annotations.fallback = { reason, message: fallbackMessage(kind, reason) };
    deltaMetrics().fallback(kind, reason);
    options.log.info({ kind, reason }, 'delta run: kind pulled in full');
    // A full pull sweeps what it did not see, so it needs the whole stored picture (after a refused
    // round's partial one); the read overlaps the first pages, as a full pull's does.
    options.ctx
      .prepare(kind)
      .catch(ignoreBecause('a stored picture read that failed fails the first write', options.log));
    await pullKindSeeded(graph, kind, run, signal, kind === 'users' ? view : (page) => page, seeding);
  };

  const users = async () => {
    const run = start('users');
    const state = usersFiltered ? { reason: 'users_filter' as const } : await stateOf('users', 'users');
    if (state.reason) return fullInstead('users', run, state.reason);
    const refused = await applyRound(options, 'users', state.link!, { main: run }, view).catch(failing(run));
    if (refused) await fullInstead('users', run, refused);
  };

  const groups = async () => {
    const withTeams = kinds.includes('teams');
    const run = start('groups');
    const teams = withTeams ? start('teams') : undefined;
    const state = await stateOf('groups', 'groups');
    if (state.reason) {
      await Promise.all([
        fullInstead('groups', run, state.reason),
        teams && fullInstead('teams', teams, 'groups_fell_back'),
      ]);
      return;
    }
    // Teams follow the groups' round only when their own state is there too (a purge of teams alone
    // forgets it): else they are pulled in full beside it.
    const teamsReason = teams ? (await stateOf('teams', 'groups')).reason : undefined;
    const follow = teams && !teamsReason ? teams : undefined;
    const separate = teams && teamsReason ? fullInstead('teams', teams, teamsReason) : undefined;
    const refused = await applyRound(
      options,
      'groups',
      state.link!,
      { main: run, teams: follow },
      (page) => page,
    ).catch(failing(run, follow));
    if (refused) {
      await Promise.all([
        fullInstead('groups', run, refused),
        follow && fullInstead('teams', follow, 'groups_fell_back'),
      ]);
    }
    await separate;
  };

  /** A round that failed (not refused): its kinds fail with its error, and nothing is pulled instead. */
  const failing =
    (...runs: (KindRun | undefined)[]) =>
    async (error: unknown): Promise<undefined> => {
      for (const run of runs) await run?.fail(error, signal);
      return undefined;
    };

  await Promise.all([kinds.includes('users') && users(), kinds.includes('groups') && groups()]);
}

/**
 * One round of a kind applied to the store (and to teams, for groups). Returns the reason to pull the
 * kind in full instead when Graph refused the round's state; throws on any other failure.
 */
async function applyRound(
  options: DeltaStepOptions,
  kind: DeltaKind,
  link: string,
  runs: { main: KindRun; teams?: KindRun | undefined },
  transform: (page: Record<string, unknown>[]) => Record<string, unknown>[],
): Promise<DeltaFallbackReason | undefined> {
  const { ctx, states } = options;
  const roundStartedAt = new Date();
  const round = options.graph.delta.round(kind, { link, signal: options.signal });
  runs.main.annotations.sync = 'delta';
  ctx.namedOnly(kind);
  if (runs.teams) {
    runs.teams.annotations.sync = 'delta';
    ctx.namedOnly('teams');
  }
  // The last word on each object in the round: removed, or present (and, for teams, a team or not).
  const removed = new Set<string>();
  const teamsRemoved = new Set<string>();
  try {
    for await (const page of round.pages) {
      for (const { id } of page.removed) {
        removed.add(id);
        teamsRemoved.add(id);
      }
      if (page.changed.length === 0) continue;
      // Merged one after the other: an object repeated in a page merges over its earlier copy.
      const current = await ctx.storedData(
        kind,
        page.changed.map((c) => String(c.id)),
      );
      for (const change of page.changed) {
        const id = String(change.id);
        current.set(id, mergeDelta(current.get(id), change, SELECTED[kind]));
        removed.delete(id);
      }
      const merged = page.changed.map((c) => current.get(String(c.id))!);
      const unique = [...new Map(merged.map((m) => [String(m.id), m])).values()];
      await runs.main.write(transform(unique));
      if (runs.teams) {
        const teams = unique.filter(isTeam);
        for (const group of unique) {
          if (isTeam(group)) teamsRemoved.delete(String(group.id));
          else teamsRemoved.add(String(group.id));
        }
        await runs.teams.write(teams.map(teamOf));
      }
    }
  } catch (error) {
    const refused = isDeltaRefusal(error);
    if (refused) return refused;
    throw error;
  }
  const next = round.deltaLink;
  if (!next) throw new SyncError('GRAPH_REQUEST', `Graph /${kind}/delta ended a round without a delta link.`);
  const state = { link: next, select: DELTA_SELECT[kind], roundStartedAt };
  const settled = await Promise.all([
    runs.main.completeDelta(removed),
    runs.teams?.completeDelta(teamsRemoved),
  ]);
  // The state moves on only for a kind whose round was written (held deletes included: the held
  // objects wait for an operator's approval or the next full pull, as a held sweep's do).
  const written = (status: string | undefined) => status === 'succeeded' || status === 'needs_review';
  if (written(settled[0].status)) await states.save(kind, state);
  if (runs.teams && written(settled[1]?.status)) await states.save('teams', state);
  return undefined;
}
