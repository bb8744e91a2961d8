/**
 * The Graph steps of a full pull: licences first (small, and the users' licence view needs them),
 * then users, groups and teams at once; each page is written as it arrives.
 */
import type { GraphConnector, GraphKind } from '../../connectors/graph/index.js';
import { skuIndex, withLicenceView, type SkuIndex, type SubscribedSku } from '../../domain/licence-view.js';
import type { KindRun } from './kind-run.js';

export async function runGraphSteps(
  graph: GraphConnector,
  kinds: readonly GraphKind[],
  start: (kind: string) => KindRun,
  signal: AbortSignal,
): Promise<void> {
  let skus: SkuIndex | undefined;
  if (kinds.includes('licences')) {
    const collected: SubscribedSku[] = [];
    await pullKind(graph, 'licences', start('licences'), signal, (page) => {
      collected.push(...(page as unknown as SubscribedSku[]));
      return page;
    });
    skus = skuIndex(collected);
  }
  const withView = (page: Record<string, unknown>[]) =>
    skus ? page.map((user) => withLicenceView(user, skus!)) : page;
  await Promise.all(
    kinds
      .filter((k) => k !== 'licences')
      .map((kind) =>
        pullKind(graph, kind, start(kind), signal, kind === 'users' ? withView : (page) => page),
      ),
  );
}

async function pullKind(
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
