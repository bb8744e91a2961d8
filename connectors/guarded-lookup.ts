/**
 * A DNS lookup for outgoing sockets that refuses, right before connecting, a name that resolves to a
 * private, loopback or link-local address no allow-list entry names (domain/destinations.ts). The
 * allow-list check on the configured names runs before any connection; this one closes the gap where
 * an allowed or national-cloud name is made to resolve into the provider's own network.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isResolvedAddressAllowed, type AllowEntry, type DestinationKind } from '../domain/destinations.js';

/** `port`: the port the socket connects to, when known (an entry with a port then must match it). */
export function guardedLookup(
  kind: DestinationKind,
  entries: () => readonly AllowEntry[],
  port?: number,
): LookupFunction {
  return ((hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      // Connect only to addresses that pass; refuse when none does.
      const passing = addresses.filter((a) => isResolvedAddressAllowed(kind, a.address, port, entries()));
      if (passing.length === 0) {
        const shown = addresses.map((a) => a.address).join(', ');
        const refusal = Object.assign(
          new Error(
            `${hostname} resolves to ${shown}: a private, loopback or link-local address that is not allowed ` +
              `(an administrator allows it with: m365sync destinations allow ${kind} ${addresses[0]?.address ?? ''})`,
          ),
          { code: 'EDESTINATIONREFUSED' },
        );
        return callback(refusal);
      }
      if (options.all) return callback(null, passing);
      return callback(null, passing[0]!.address, passing[0]!.family);
    });
  }) as LookupFunction;
}
