import { FIXTURE_DESTINATIONS } from '../../simulators/example-tenant.js';

// The example tenant lives with the simulators, so the benchmarks share it without importing test/.
export { FIXTURE_DESTINATIONS, validTenantInput } from '../../simulators/example-tenant.js';

export async function allowFixtureDestinations(destinations: {
  allow(kind: string, entry: string): Promise<unknown>;
}): Promise<void> {
  for (const d of FIXTURE_DESTINATIONS) await destinations.allow(d.kind, d.entry);
}
