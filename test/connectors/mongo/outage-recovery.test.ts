/**
 * A long-lived store whose first write meets MongoDB away writes again on the next run once MongoDB
 * answers: nothing a process learns from MongoDB keeps a failure (here the write limits, looked up
 * with `buildInfo` on the first write of the process). Before the fix, the rejected look-up was kept
 * for the life of the process and every later run failed with the old error.
 *
 * The imported objects go through a TCP proxy that refuses or hangs; the lease and the sweep marks go
 * straight to the server, so the first MongoDB operation that meets the outage is the store's own
 * look-up.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, type MongoConnection } from '../../../connectors/mongo/connection.js';
import { ImportedObjectStore } from '../../../connectors/mongo/imported-objects.js';
import { LeaseStore, type WriteFence } from '../../../connectors/mongo/leases.js';
import { SweepRecordStore } from '../../../connectors/mongo/sweep-records.js';
import { parseSettings } from '../../../domain/settings.js';
import { testEnv } from '../../support/env.js';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../../support/tcp-proxy.js';
import { testMongo, type TestMongo } from '../../support/services.js';

const tenant = { id: 'tenant-outage', hierarchy: 'provider.outage' };
const users = (ids: number[]) => ids.map((i) => ({ id: `u${i}`, displayName: `User ${i}` }));

describe.each<Exclude<ProxyMode, 'forward'>>(['refuse', 'hang'])(
  'a long-lived store whose first write meets MongoDB %s',
  (mode) => {
    let direct: TestMongo;
    let proxy: TcpProxy;
    let proxied: MongoConnection;
    let objects: ImportedObjectStore;
    let fence: WriteFence;
    beforeAll(async () => {
      direct = await testMongo(`outage${mode}`);
      const target = new URL(testEnv().mongoUri);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 27017) });
      proxied = await connectMongo(
        parseSettings({
          MONGODB_URI: proxy.url('mongodb'),
          M365SYNC_DB: direct.db.databaseName,
          MONGODB_SOCKET_TIMEOUT_MS: '1000',
          MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
        }),
      );
      objects = new ImportedObjectStore(proxied.db, new SweepRecordStore(direct.db));
      const leases = new LeaseStore(direct.db, { clockSkewMs: 0 });
      fence = leases.fence((await leases.acquire(tenant.id, 'test', 60_000))!, 60_000);
    });
    afterEach(() => proxy.setMode('forward'));
    afterAll(async () => {
      await proxied?.close();
      await proxy?.close();
      await direct?.close();
    });

    it('fails that run, and writes in the next run once MongoDB answers', async () => {
      await proxy.setMode(mode);
      await expect(objects.writer('users', tenant, 'run1', fence).write(users([1, 2]))).rejects.toThrow();

      await proxy.setMode('forward');
      const next = objects.writer('users', tenant, 'run2', fence);
      expect(await next.write(users([1, 2, 3]))).toEqual({ created: 3, updated: 0, unchanged: 0 });
      expect(await next.sweep()).toBe(0);
      expect(await objects.countStored('users', tenant.id)).toBe(3);
    });
  },
);
