/**
 * What CLI commands share: the output streams (swappable, so tests run the real program in-process)
 * and the stores, opened on first use so `m365sync --help` needs no database.
 */
import { userInfo } from 'node:os';
import { checkedActor } from '../../domain/actor.js';
import { connectMongo, type MongoConnection } from '../../connectors/mongo/connection.js';
import {
  ENCRYPTION_KEYS_VARIABLE,
  LOCKED_KEY_RING,
  keyRingFromEnv,
} from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface CliContext {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  stores(): Promise<Stores>;
  /**
   * The stores for commands that only read what is stored in the clear (tenants list and show, runs,
   * schedules): without M365SYNC_ENCRYPTION_KEYS, anything that would decrypt or encrypt fails with
   * ENCRYPTION_KEY instead.
   */
  readStores(): Promise<Stores>;
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
  let readStores: Promise<Stores> | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  return {
    io,
    env,
    stores() {
      stores ??= (async () => {
        const keyRing = keyRingFromEnv(env); // before connecting: a bad key stops at once
        connection = await connectMongo(env);
        return openStores(connection.db, keyRing, { env });
      })();
      return stores;
    },
    readStores() {
      if (env[ENCRYPTION_KEYS_VARIABLE]) return this.stores();
      readStores ??= (async () => {
        connection = await connectMongo(env);
        return openStores(connection.db, LOCKED_KEY_RING, { env });
      })();
      return readStores;
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
