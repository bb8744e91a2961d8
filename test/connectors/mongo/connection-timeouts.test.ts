/**
 * Every MongoDB operation is bounded: a server that stops answering (a proxy that keeps the
 * connection open and forwards nothing) or refuses connections makes the operation fail, never hang.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, type MongoConnection } from '../../../connectors/mongo/connection.js';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import { testEnv } from '../../support/env.js';
import { uniqueName } from '../../support/services.js';
import { parseSettings } from '../../../domain/settings.js';

describe('MongoDB driver timeouts', () => {
  let proxy: TcpProxy;
  let mongo: MongoConnection;
  beforeAll(async () => {
    const target = new URL(testEnv().mongoUri);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 27017) });
    mongo = await connectMongo(
      parseSettings({
        MONGODB_URI: proxy.url('mongodb'),
        M365SYNC_DB: uniqueName('timeouts'),
        MONGODB_SOCKET_TIMEOUT_MS: '1000',
        MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
      }),
    );
  });
  afterAll(async () => {
    await proxy.setMode('forward');
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.close();
    await proxy.close();
  });

  it('fails an operation on a server that stopped answering, and works again when it answers', async () => {
    await mongo.db.collection('probe').insertOne({ n: 1 });
    await proxy.setMode('hang');
    await expect(mongo.db.collection('probe').insertOne({ n: 2 })).rejects.toThrow(/timed out|timeout/i);
    await expect(mongo.db.collection('probe').findOne({})).rejects.toThrow(/timed out|timeout/i);
    await proxy.setMode('forward');
    await expect(mongo.db.collection('probe').countDocuments({})).resolves.toBeGreaterThanOrEqual(1);
  });

  it('fails an operation while the server refuses connections', async () => {
    await proxy.setMode('refuse');
    await expect(mongo.db.collection('probe').insertOne({ n: 3 })).rejects.toThrow();
    await proxy.setMode('forward');
    await expect(mongo.db.collection('probe').insertOne({ n: 4 })).resolves.toBeDefined();
  });
});
