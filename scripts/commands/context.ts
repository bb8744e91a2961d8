/**
 * What CLI commands share: the output streams (swappable, so tests run the real program in-process)
 * and the stores, opened on first use so `m365sync --help` needs no database.
 */
import { userInfo } from 'node:os';
import type { Db } from 'mongodb';
import { checkedActor } from '../../domain/actor.js';
import { connectMongo, type MongoConnection } from '../../connectors/mongo/connection.js';
import { keyRingFromEnv, type KeyRing } from '../../connectors/mongo/encryption.js';
import { ApiTokenStore } from '../../connectors/mongo/api-tokens.js';
import { CertificateRepository } from '../../connectors/mongo/certificates.js';
import { TenantRepository } from '../../connectors/mongo/tenants.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface Stores {
  db: Db;
  keyRing: KeyRing;
  tenants: TenantRepository;
  certificates: CertificateRepository;
  /** The operator API's tokens. */
  tokens: ApiTokenStore;
}

export interface CliContext {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  stores(): Promise<Stores>;
  /** Runs at close (queues, pools…), newest first. */
  onClose(cleanup: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/** Who runs this command, as recorded on runs and approvals: M365SYNC_OPERATOR, else `<user>@cli`. */
export function operatorName(ctx: Pick<CliContext, 'env'>): string {
  return checkedActor(ctx.env.M365SYNC_OPERATOR ?? `${userInfo().username}@cli`, 'M365SYNC_OPERATOR');
}

export function createCliContext(io: CliIo, env: NodeJS.ProcessEnv = process.env): CliContext {
  let connection: MongoConnection | undefined;
  let stores: Promise<Stores> | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  return {
    io,
    env,
    stores() {
      stores ??= (async () => {
        const keyRing = keyRingFromEnv(env); // before connecting: a bad key stops at once
        connection = await connectMongo(env);
        return openStores(connection.db, keyRing);
      })();
      return stores;
    },
    onClose(cleanup) {
      cleanups.push(cleanup);
    },
    async close() {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await connection?.close();
    },
  };
}

export async function openStores(db: Db, keyRing: KeyRing): Promise<Stores> {
  const certificates = new CertificateRepository(db, keyRing);
  const tenants = new TenantRepository(db, keyRing, (name) => certificates.find(name));
  const tokens = new ApiTokenStore(db);
  await Promise.all([certificates.ensureIndexes(), tenants.ensureIndexes(), tokens.ensureIndexes()]);
  return { db, keyRing, tenants, certificates, tokens };
}
