/**
 * The Graph steps of a full pull: licences first (small, and the users' licence view needs them),
 * then users, groups and teams at once; each page is written as it arrives.
 *
 * With delta sync on, the full pull also seeds each delta kind's state: it takes a `$deltatoken=latest`
 * link before it lists users, groups or teams and saves it once the kind completed, so the next delta
 * round starts from the pull's start (what changed meanwhile comes again, absorbed by merging).
 */
import type { Logger } from 'pino';
import { DELTA_SELECT, type GraphConnector, type GraphKind } from '../../connectors/graph/index.js';
import { skuIndex, withLicenceView, type SkuIndex, type SubscribedSku } from '../../domain/licence-view.js';
import type { DeltaState, DeltaStateRead } from '../../connectors/mongo/index.js';
import type { KindRun } from './kind-run.js';

/** A run's view of its tenant's delta states: read with the keys, saved behind the run's fence. */
export interface DeltaStates {
  read(kind: string): Promise<DeltaStateRead>;
  save(kind: string, state: DeltaState): Promise<void>;
}

/** What seeding needs; without it (delta sync off) the full pull takes no delta links. */
export interface DeltaSeeding {
  states: DeltaStates;
  /** The tenant has a Graph users filter: users have no delta (docs/delta.md). */
  usersFiltered: boolean;
  log: Logger;
}

export async function runGraphSteps(
  graph: GraphConnector,
  kinds: readonly GraphKind[],
  start: (kind: string) => KindRun,
  signal: AbortSignal,
  seeding?: DeltaSeeding,
): Promise<void> {
  const skus = kinds.includes('licences') ? await pullLicences(graph, start('licences'), signal) : undefined;
  await Promise.all(
    kinds
      .filter((k) => k !== 'licences')
      .map((kind) =>
        pullKindSeeded(graph, kind, start(kind), signal, kind === 'users' ? usersView(skus) : same, seeding),
      ),
  );
}

const same = (page: Record<string, unknown>[]) => page;

/** Users with their licence view, when the SKUs were read. */
export function usersView(skus: SkuIndex | undefined) {
  return (page: Record<string, unknown>[]) => (skus ? page.map((user) => withLicenceView(user, skus)) : page);
}

/** The licences kind in full (subscribedSkus has no delta); returns the SKU index for the users' view. */
export async function pullLicences(
  graph: GraphConnector,
  run: KindRun,
  signal: AbortSignal,
): Promise<SkuIndex> {
  const collected: SubscribedSku[] = [];
  await pullKind(graph, 'licences', run, signal, (page) => {
    collected.push(...(page as unknown as SubscribedSku[]));
    return page;
  });
  return skuIndex(collected);
}

/** The delta round a kind's state belongs to: teams come from the groups' rounds. */
export const deltaSourceOf = (kind: GraphKind): 'users' | 'groups' | undefined =>
  kind === 'users' ? 'users' : kind === 'groups' || kind === 'teams' ? 'groups' : undefined;

/**
 * A full pull of one kind; for a delta kind (with seeding) a `$deltatoken=latest` link is taken first
 * and saved as the kind's delta state once the kind completed. A link that cannot be taken costs the
 * pull nothing: the next delta run of the kind is then a full pull again.
 */
export async function pullKindSeeded(
  graph: GraphConnector,
  kind: GraphKind,
  run: KindRun,
  signal: AbortSignal,
  transform: (page: Record<string, unknown>[]) => Record<string, unknown>[],
  seeding: DeltaSeeding | undefined,
): Promise<void> {
  const source = deltaSourceOf(kind);
  let seed: { link: string; roundStartedAt: Date } | undefined;
  if (seeding && source && !(source === 'users' && seeding.usersFiltered)) {
    const roundStartedAt = new Date();
    try {
      seed = { link: await graph.delta.latest(source, { signal }), roundStartedAt };
    } catch (error) {
      seeding.log.warn(
        { kind, code: (error as { code?: string }).code },
        'could not take a delta link before the full pull of the kind; its next delta run pulls it in full',
      );
    }
  }
  await pullKind(graph, kind, run, signal, transform);
  const status = run.outcome?.status;
  if (seed && source && (status === 'succeeded' || status === 'needs_review'))
    await seeding!.states.save(kind, { ...seed, select: DELTA_SELECT[source] });
}

export async function pullKind(
  graph: GraphConnector,
  kind: GraphKind,
  run: KindRun,
  signal: AbortSignal,
  transform: (page: Record<string, unknown>[]) => Record<string, unknown>[],
): Promise<void> {
  try {
    for await (const page of graph.pages(kind, { signal })) await run.write(transform(page));
    await run.complete();
  } catch (error) {
    await run.fail(error, signal);
  }
}
