/**
 * At worker start-up: delete the WinRM shells that dead worker processes left open on the PowerShell
 * proxies (found in the shell ledger, workers/shell-ledger.ts). Each shell is deleted with the proxy
 * account of the tenant it was opened for, and only on a proxy that tenant names: credentials go to
 * no other endpoint. A shell the proxy no longer knows (idle timeout, restart) is simply forgotten; one
 * that cannot be deleted now (proxy down) is kept for the next start-up until its idle timeout has
 * surely passed.
 */
import type { Logger } from 'pino';
import type { TenantStore } from '../connectors/mongo/index.js';
import {
  WINRM_DEFAULTS,
  WinRmClient,
  type OpenShellEntry,
  type WinRmSettings,
} from '../connectors/winrm/index.js';
import { parsePowerShellHosts } from '../domain/powershell-hosts.js';
import { SyncError } from '../domain/errors.js';
import type { RedisShellLedger } from './shell-ledger.js';

export interface LeftoverShellsReport {
  deleted: number;
  /** Already gone from the proxy. */
  gone: number;
  /** Could not be deleted now; kept for the next start-up. */
  kept: number;
  /** Dropped without a Delete: the tenant or its proxy is no longer configured, or the entry expired. */
  dropped: number;
}

export async function deleteLeftoverShells(o: {
  ledger: RedisShellLedger;
  tenants: Pick<TenantStore, 'getDecrypted'>;
  winrm: WinRmSettings;
  logger: Logger;
}): Promise<LeftoverShellsReport> {
  const report: LeftoverShellsReport = { deleted: 0, gone: 0, kept: 0, dropped: 0 };
  const idleTimeoutMs = o.winrm.idleTimeoutMs ?? WINRM_DEFAULTS.idleTimeoutMs;
  for (const orphan of await o.ledger.orphans()) {
    const done: OpenShellEntry[] = [];
    for (const entry of orphan.entries) {
      const outcome = await deleteOne(entry, o);
      report[outcome]++;
      const expired = Date.now() - entry.openedAt > 2 * idleTimeoutMs;
      if (outcome !== 'kept' || expired) done.push(entry);
    }
    await o.ledger.forget(orphan.instanceId, done);
    if (orphan.entries.length > 0) {
      o.logger.info(
        { instance: orphan.instanceId, shells: orphan.entries.length },
        'deleted the WinRM shells a stopped worker left open',
      );
    }
  }
  return report;
}

async function deleteOne(
  entry: OpenShellEntry,
  o: { tenants: Pick<TenantStore, 'getDecrypted'>; winrm: WinRmSettings; logger: Logger },
): Promise<keyof LeftoverShellsReport> {
  if (!entry.owner) return 'dropped';
  let group;
  try {
    group = (await o.tenants.getDecrypted(entry.owner))['Microsoft Teams Powershell'];
  } catch (error) {
    if (error instanceof SyncError && error.code === 'NOT_FOUND') return 'dropped';
    return 'kept';
  }
  const scheme = o.winrm.scheme ?? 'https';
  const port = { http: 5985, https: 5986 }[scheme];
  const host = parsePowerShellHosts(group.hostName).find(
    (h) => `${h.host}:${h.port ?? port}` === entry.proxy,
  );
  if (!host) return 'dropped'; // never send this tenant's proxy password anywhere it does not name
  const { affinityKey: _a, maxShellsPerProxy: _m, coolDownMs: _c, probeIntervalMs: _p, ...client } = o.winrm;
  const winrm = new WinRmClient(
    {
      ...client,
      host: host.host,
      port: host.port ?? port,
      username: group.proxyUsername,
      password: group.proxyPassword,
    },
    { logger: o.logger },
  );
  try {
    return await winrm.deleteShell(entry.shellId);
  } catch (error) {
    o.logger.warn(
      {
        proxy: entry.proxy,
        shellId: entry.shellId,
        code: error instanceof SyncError ? error.code : undefined,
      },
      'could not delete a shell a stopped worker left open; trying again at the next start-up',
    );
    return 'kept';
  } finally {
    winrm.close();
  }
}
