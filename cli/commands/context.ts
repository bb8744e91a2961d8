/**
 * What CLI commands share: the output streams (swappable, so tests run the real program in-process),
 * the process settings (the environment parsed once, on first use, so `m365sync --help` works with a
 * wrong variable) and the stores, opened on first use so `m365sync --help` needs no database.
 */
import { readSecretFiles } from '../../connectors/secret-files.js';
import { userInfo } from 'node:os';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { checkedActor } from '../../domain/actor.js';
import { globalDeleteThresholds } from '../../domain/delete-protection.js';
import { parseSettings, type Settings } from '../../domain/settings.js';
import {
  connectMongo,
  ENCRYPTION_KEYS_VARIABLE,
  keyRingOf,
  LOCKED_KEY_RING,
  openStores,
  type MongoConnection,
  type Stores,
} from '../../connectors/mongo/index.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface CliContext {
  io: CliIo;
  /** The environment parsed once (domain/settings.ts): a wrong variable fails the command naming it. */
  readonly settings: Settings;
  /** The stores of a command that writes: on a database without a key canary, records the first key. */
  stores(): Promise<Stores>;
  /**
   * The stores for commands that only read what is stored in the clear (tenants list and show, runs,
   * schedules): without M365SYNC_ENCRYPTION_KEYS, anything that would decrypt or encrypt fails with
   * ENCRYPTION_KEY instead. With the keys given they are checked, and no key canary is recorded.
   */
  readStores(): Promise<Stores>;
  /** Runs at close (queues, pools…), newest first. */
  onClose(cleanup: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/** Who runs this command, as recorded on runs and approvals: M365SYNC_OPERATOR, else `<user>@cli`. */
export function operatorName(ctx: Pick<CliContext, 'settings'>): string {
  return checkedActor(ctx.settings.M365SYNC_OPERATOR ?? `${userInfo().username}@cli`, 'M365SYNC_OPERATOR');
}

/** The CLI's context over an environment: `process.env` from cli/cli.ts, a test's own otherwise. */
export function createCliContext(io: CliIo, env: Readonly<Record<string, string | undefined>>): CliContext {
  let settings: Settings | undefined;
  let connection: Promise<MongoConnection> | undefined;
  let stores: Promise<Stores> | undefined;
  let readStores: Promise<Stores> | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  const connect = (s: Settings) => (connection ??= connectMongo(s));
  return {
    io,
    get settings() {
      // Secrets given as files (`REDIS_URL_FILE`, …) are read first: connectors/secret-files.ts.
      return (settings ??= parseSettings(readSecretFiles(env)));
    },
    stores() {
      stores ??= (async () => {
        const keyRing = keyRingOf(this.settings); // before connecting: a bad key stops at once
        return openStores((await connect(this.settings)).db, keyRing, {
          deleteThresholds: globalDeleteThresholds(this.settings),
        });
      })();
      return stores;
    },
    readStores() {
      if (stores) return stores;
      // With the keys given, they are checked, but a read-only command records no key canary.
      readStores ??= (async () => {
        const keyRing = this.settings[ENCRYPTION_KEYS_VARIABLE] ? keyRingOf(this.settings) : LOCKED_KEY_RING;
        return openStores((await connect(this.settings)).db, keyRing, {
          deleteThresholds: globalDeleteThresholds(this.settings),
          readOnly: true,
        });
      })();
      return readStores;
    },
    onClose(cleanup) {
      cleanups.push(cleanup);
    },
    async close() {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      const open = await connection?.catch(
        ignoreBecause('a connection that never opened has nothing to close (its error reached the command)'),
      );
      await open?.close();
    },
  };
}
