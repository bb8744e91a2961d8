import { describe, expect, it } from 'vitest';
import {
  destinationProblems,
  isAllowed,
  isResolvedAddressAllowed,
  isSpecialAddress,
  parseAllowEntry,
} from '../../domain/destinations.js';
import { ValidationError } from '../../domain/errors.js';
import { secretsToGiveAgain } from '../../domain/secret-bindings.js';
import { MASK, mergeTenantInput, migrateProxyCredentials, validateTenant } from '../../domain/tenant.js';
import type { TenantInput } from '../../domain/tenant.js';
import { validTenantInput } from '../support/fixtures.js';

const entries = (...list: [string, string][]) => list.map(([k, e]) => parseAllowEntry(k, e));

describe('allow-list entries', () => {
  it('parses names, addresses, ports and CIDR ranges, normalised', () => {
    expect(parseAllowEntry('powershell', 'PS1.Example.NET:5986')).toMatchObject({
      entry: 'ps1.example.net:5986',
      name: 'ps1.example.net',
      port: 5986,
    });
    expect(parseAllowEntry('powershell', '10.0.0.0/8')).toMatchObject({ entry: '10.0.0.0/8' });
    expect(parseAllowEntry('graph', '[::1]:8443')).toMatchObject({ address: '::1', port: 8443 });
    expect(parseAllowEntry('http_proxy', '192.0.2.1')).toMatchObject({ address: '192.0.2.1' });
  });

  it('refuses nonsense, naming what is wrong', () => {
    for (const bad of ['', 'http://ps1', 'ps1:99999', '10.0.0.0/33', 'a b', 'ps1/x'])
      expect(() => parseAllowEntry('powershell', bad)).toThrow(ValidationError);
    expect(() => parseAllowEntry('ftp', 'ps1')).toThrow(/kind: must be one of graph, powershell, http_proxy/);
  });

  it('matches a host by name, address or range, and a port when the entry has one', () => {
    const list = entries(
      ['powershell', 'ps1.example.net'],
      ['powershell', '10.1.0.0/16'],
      ['powershell', '127.0.0.1:5985'],
    );
    expect(isAllowed('powershell', 'PS1.example.net', 5986, list)).toBe(true);
    expect(isAllowed('powershell', '10.1.2.3', 5986, list)).toBe(true);
    expect(isAllowed('powershell', '10.2.0.1', 5986, list)).toBe(false);
    expect(isAllowed('powershell', '127.0.0.1', 5985, list)).toBe(true);
    expect(isAllowed('powershell', '127.0.0.1', 22, list)).toBe(false);
    expect(isAllowed('graph', 'ps1.example.net', 443, list)).toBe(false); // another kind
    expect(isAllowed('powershell', 'evil.example.net', 5986, list)).toBe(false);
  });

  it('knows private, loopback and link-local addresses, and refuses a name resolving to one unless allowed', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
    ])
      expect(isSpecialAddress(a)).toBe(true);
    for (const a of ['192.0.2.1', '20.190.128.1', '2001:db8::1']) expect(isSpecialAddress(a)).toBe(false);
    const list = entries(['graph', 'graph.example'], ['graph', '10.9.0.0/16']);
    expect(isResolvedAddressAllowed('graph', '127.0.0.1', 443, list)).toBe(false);
    expect(isResolvedAddressAllowed('graph', '10.9.1.1', 443, list)).toBe(true);
    expect(isResolvedAddressAllowed('graph', '20.190.128.1', 443, list)).toBe(true);
  });
});

describe('tenant destinations', () => {
  const tenant = (overrides: TenantInput = {}) => validateTenant(validTenantInput(overrides));

  it('allows the national clouds without an entry, and names every field that needs one', () => {
    expect(destinationProblems(tenant(), entries(['powershell', 'ps1.example.net']))).toEqual([]);
    const problems = destinationProblems(
      tenant({
        'Microsoft Teams Powershell': { hostName: 'ps1.example.net, 10.0.0.5:5985' },
        'Microsoft 365': {
          graph_base_url: 'https://graph.evil.example',
          authority_host: 'https://login.microsoftonline.us',
          https_proxy: 'http://169.254.169.254:80/',
        },
      }),
      entries(['powershell', 'ps1.example.net']),
    );
    expect(problems.map((p) => p.field)).toEqual([
      'Microsoft 365.graph_base_url',
      'Microsoft 365.https_proxy',
      'Microsoft Teams Powershell.hostName',
    ]);
    expect(problems[2]!.message).toMatch(
      /10\.0\.0\.5:5985 is not an allowed destination.*destinations allow powershell 10\.0\.0\.5/,
    );
  });
});

describe('secrets bound to their destinations', () => {
  const current = validateTenant(validTenantInput());
  const again = (change: TenantInput) =>
    secretsToGiveAgain(current, validateTenant(mergeTenantInput(current, change)), change).map(
      (p) => p.field,
    );

  it('asks for the client secret again when the authority, the Graph base URL or the cloud changes', () => {
    expect(again({ 'Microsoft 365': { authority_host: 'https://login.example' } })).toEqual([
      'Microsoft 365.client_secret',
    ]);
    expect(
      again({ 'Microsoft 365': { graph_base_url: 'https://graph.example', client_secret: MASK } }),
    ).toEqual(['Microsoft 365.client_secret']);
    expect(again({ 'Microsoft 365': { cloud: 'china' } })).toEqual([
      'Microsoft 365.client_secret',
      'Microsoft Teams.tenantPassword',
    ]);
    expect(
      again({ 'Microsoft 365': { authority_host: 'https://login.example', client_secret: 'new' } }),
    ).toEqual([]);
  });

  it('asks for the PowerShell and Teams passwords again when a PowerShell host is added', () => {
    expect(again({ 'Microsoft Teams Powershell': { hostName: 'ps1.example.net, ps9.example.net' } })).toEqual(
      ['Microsoft Teams Powershell.proxyPassword', 'Microsoft Teams.tenantPassword'],
    );
    // Removing a host sends nothing anywhere new.
    const two = validateTenant(
      validTenantInput({ 'Microsoft Teams Powershell': { hostName: 'ps1.example.net,ps2.example.net' } }),
    );
    const change = { 'Microsoft Teams Powershell': { hostName: 'ps2.example.net' } };
    expect(secretsToGiveAgain(two, validateTenant(mergeTenantInput(two, change)), change)).toEqual([]);
  });

  it('asks for the proxy password again when the outbound proxy changes; other edits need nothing', () => {
    const withProxy = validateTenant(
      validTenantInput({
        'Microsoft 365': {
          https_proxy: 'https://proxy.example:3128/',
          proxy_username: 'u',
          proxy_password: 'pp',
        },
      }),
    );
    const change = { 'Microsoft 365': { https_proxy: 'https://other.example:3128/' } };
    expect(
      secretsToGiveAgain(withProxy, validateTenant(mergeTenantInput(withProxy, change)), change),
    ).toEqual([
      expect.objectContaining({
        field: 'Microsoft 365.proxy_password',
        message: expect.stringMatching(/must be given again/),
      }),
    ]);
    expect(again({ Tenant: { description: 'x' }, 'Microsoft 365': { groups_api_page_size: 5 } })).toEqual([]);
  });

  it('moves a proxy user and password out of a stored proxy URL', () => {
    const legacy = validateTenant(validTenantInput());
    legacy['Microsoft 365'].https_proxy = 'https://pu:p%40ss@proxy.example:3128/';
    expect(migrateProxyCredentials(legacy)).toBe(true);
    expect(legacy['Microsoft 365']).toMatchObject({
      https_proxy: 'https://proxy.example:3128/',
      proxy_username: 'pu',
      proxy_password: 'p@ss',
    });
    expect(migrateProxyCredentials(legacy)).toBe(false);
  });
});
