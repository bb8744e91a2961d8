/**
 * Gives FerretDB's PostgreSQL tables of one database the `_id` index that MongoDB always uses.
 *
 * FerretDB v1.24 on PostgreSQL turns a filter `{ _id: x }` into `_jsonb->'_id' @> '"x"'`, which its
 * own btree `_id` index cannot serve, so every update or delete by `_id` scans the collection: about
 * 5 ms at 5,000 documents and 40–70 ms at 50,000–100,000 (measured on this machine). A benchmark on
 * that server then measures FerretDB's scans, not the engine. A GIN index on the same expression
 * (`jsonb_path_ops` serves `@>`) makes those statements index look-ups, as on MongoDB: about 8 ms
 * each, whatever the collection's size. The product never does this: it talks to MongoDB only, and
 * the tests run on FerretDB as it comes. `bench/nightly.ts --no-id-index` measures without it.
 *
 * Run it once the collections exist (the store creates a kind's collection when it first writes it).
 * It only helps a FerretDB whose PostgreSQL sessions plan every statement anew
 * (`plan_cache_mode=force_custom_plan`, as `scripts/services.sh --bench` starts the benchmark's own):
 * FerretDB sends the field's name as a parameter, and the generic plan PostgreSQL otherwise settles on
 * cannot match it to an index.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where FerretDB keeps its data (scripts/services.sh starts it on this URL). */
export function ferretdbPostgresUrl(env: NodeJS.ProcessEnv): string {
  return env.M365SYNC_POSTGRESQL_URL ?? 'postgres://postgres@127.0.0.1:5432/m365sync';
}

/**
 * Adds the index to every table of `database`; returns how many tables got it. With `externalId`, a
 * second one on `externalId`, standing for the store's `tenant_external_id` index (imported-objects.ts)
 * that MongoDB serves a delta round's look-ups from (FerretDB turns `{ tenantId, externalId }` into
 * one `@>` per field, and the tenant's alone would scan all of its objects).
 */
export async function addIdIndexes(
  postgresUrl: string,
  database: string,
  options: { externalId?: boolean } = {},
): Promise<number> {
  // FerretDB's schema is the database's name; its tables are listed in _ferretdb_database_metadata.
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`not a plain database name: ${database}`);
  const psql = (sql: string) =>
    run('psql', [postgresUrl, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]).then((r) => r.stdout);
  const tables = (await psql(`SELECT _jsonb->>'table' FROM "${database}"._ferretdb_database_metadata`))
    .split('\n')
    .filter((t) => /^[A-Za-z0-9_]+$/.test(t));
  for (const table of tables) {
    await psql(
      `CREATE INDEX IF NOT EXISTS "${table}_id_gin" ON "${database}"."${table}" USING gin ((_jsonb->'_id') jsonb_path_ops)`,
    );
    if (options.externalId)
      await psql(
        `CREATE INDEX IF NOT EXISTS "${table}_externalid_gin" ON "${database}"."${table}" USING gin ((_jsonb->'externalId') jsonb_path_ops)`,
      );
  }
  return tables.length;
}

/**
 * How many times PostgreSQL has used those indexes (0 means FerretDB kept scanning: it was started
 * without `plan_cache_mode=force_custom_plan`, see scripts/services.sh --bench). PostgreSQL reports a
 * connection's index use up to about ten seconds late, so this waits up to `waitMs` for a non-zero count.
 */
export async function idIndexScans(postgresUrl: string, database: string, waitMs = 15_000): Promise<number> {
  const until = Date.now() + waitMs;
  for (;;) {
    const { stdout } = await run('psql', [
      postgresUrl,
      '-At',
      '-c',
      `SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = '${database}' AND indexrelname LIKE '%_id_gin'`,
    ]);
    const scans = Number(stdout.trim());
    if (scans > 0 || Date.now() > until) return scans;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
