import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../domain/errors.js';
import {
  maskTenant,
  mergeTenantInput,
  tenantSecrets,
  userPageSize,
  groupPageSize,
  validateTenant,
  hierarchyPlaces,
  MASK,
  type TenantInput,
} from '../../domain/tenant.js';
import { graphEndpoints } from '../../domain/cloud.js';
import { parsePowerShellHosts } from '../../domain/powershell-hosts.js';
import { TENANT_FIELDS, fieldPath } from '../../domain/tenant-fields.js';
import { validTenantInput } from '../support/fixtures.js';

const THUMB = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';

function problemsOf(input: TenantInput): { field: string; message: string }[] {
  try {
    validateTenant(input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).problems;
  }
}

function withField(path: string, value: unknown, extra: TenantInput = {}): TenantInput {
  const [group, name] = [path.slice(0, path.indexOf('.')), path.slice(path.indexOf('.') + 1)];
  return validTenantInput({
    ...extra,
    [group]: { ...(extra as Record<string, object>)[group], [name]: value },
  } as TenantInput);
}

/** For each field: values that must pass and values that must fail (with the field named). */
const CASES: Record<string, { good: unknown[]; bad: unknown[]; extra?: TenantInput }> = {
  'Tenant.name': {
    good: ['Contoso', 'a-b_c.d e', 'x'.repeat(255)],
    bad: ['bad/name', 'semi;colon', 'x'.repeat(256), 'Zoë'],
  },
  'Tenant.description': {
    good: ['Anything: at all!', 'd'.repeat(255)],
    bad: ['d'.repeat(256), { not: 'text' }],
  },
  'Microsoft Teams Powershell.hostName': {
    good: [
      'ps1',
      'ps1.example.net',
      '10.0.0.7',
      'ps1:5986',
      'ps1.example.net, ps2.example.net:5985,10.0.0.9',
      '[::1]:5985',
    ],
    bad: ['http://ps1', 'ps1;ps2', 'ps1,,ps2', 'ps 1', '-ps1'],
  },
  'Microsoft Teams Powershell.proxyUsername': { good: ['svc', 'DOMAIN\\svc'], bad: ['u'.repeat(256)] },
  'Microsoft Teams Powershell.proxyPassword': { good: ['p\'"`$();\nÜ'], bad: ['p'.repeat(256)] },
  'Microsoft Teams HTTP Proxy.use_proxy': { good: [true, false, 'true', 'false'], bad: ['yes', 1] },
  'Microsoft Teams HTTP Proxy.use_http_proxy_auth': {
    good: [false, 'false'],
    bad: ['maybe'],
  },
  'Microsoft Teams HTTP Proxy.http_proxy_username': { good: ['proxyuser'], bad: ['u'.repeat(256)] },
  'Microsoft Teams HTTP Proxy.http_proxy_password': { good: ['pw'], bad: ['p'.repeat(256)] },
  'Microsoft Teams.authentication': { good: ['service_account'], bad: ['mfa', 'Certificate'] },
  'Microsoft Teams.tenantUsername': { good: ['admin@contoso.example'], bad: ['u'.repeat(256)] },
  'Microsoft Teams.tenantPassword': { good: ['pw'], bad: ['p'.repeat(256)] },
  'Microsoft Teams.certificate_thumbprint': {
    good: [THUMB, THUMB.toLowerCase()],
    bad: ['abc', `${THUMB}0`, 'G'.repeat(40)],
  },
  'Microsoft 365.client_id': {
    good: ['11111111-2222-4333-8444-555555555555', 'ABCDEF01-2222-4333-8444-555555555555'],
    bad: ['not-a-guid', '11111111222243338444555555555555', '11111111-2222-4333-8444-55555555555'],
  },
  'Microsoft 365.tenant_id': {
    good: ['66666666-7777-4888-9999-000000000000'],
    bad: ['contoso.onmicrosoft.com'],
  },
  'Microsoft 365.client_secret': { good: ['s3cr3t~value'], bad: ['s'.repeat(256)] },
  'Microsoft 365.graph_api_certificate_thumbprint': { good: [THUMB], bad: ['12:34'] },
  'Microsoft 365.certificate_bkey': { good: ['graph-cert'], bad: ['c'.repeat(256)] },
  'Microsoft 365.http_proxy': {
    good: ['https://proxy.example.net:3128/', 'http://10.0.0.1:8080'],
    bad: [
      'proxy:3128',
      'ftp://proxy:21/',
      'https://proxy:3128/path',
      'http://u:p@proxy:1/',
      'http://proxy:1/?x',
      'http://proxy:1/#x',
    ],
  },
  'Microsoft 365.https_proxy': {
    good: ['https://proxy.example.net:3128/', 'http://proxy.example.net:3128'],
    bad: [
      'https://proxyuser:proxypassword@proxy.example.net:3128/',
      'https://user:pa ss@proxy:1/',
      'proxyuser:pw@proxy:1',
      `https://u:${MASK}@proxy:1/`,
    ],
  },
  'Microsoft 365.proxy_username': {
    good: ['proxyuser'],
    bad: ['u'.repeat(256)],
    extra: { 'Microsoft 365': { https_proxy: 'https://proxy.example:3128/' } },
  },
  'Microsoft 365.proxy_password': {
    good: ['p@ss:w0rd/with%odd'],
    bad: ['p'.repeat(256)],
    extra: { 'Microsoft 365': { https_proxy: 'https://proxy.example:3128/', proxy_username: 'pu' } },
  },
  'Microsoft 365.msol_user_api_page_size': { good: [1, 999, '500'], bad: [0, 1000, -1, 1.5, 'ten'] },
  'Microsoft 365.groups_api_page_size': { good: [1, 999, '7'], bad: [0, 1000, '9.5'] },
  'Microsoft 365.cloud': { good: ['global', 'usgov_high', 'usgov_dod', 'china'], bad: ['germany', 'GLOBAL'] },
  'Microsoft 365.graph_base_url': {
    good: ['https://127.0.0.1:8443', 'https://graph.example/'],
    bad: [
      'http://graph.example',
      'https://graph.example/v1.0',
      'https://graph.example#/v1.0',
      'https://graph.example?/v1.0',
      'https://user:pw@graph.example',
    ],
  },
  'Microsoft 365.authority_host': {
    good: ['https://login.example'],
    bad: ['login.example', 'https://login.example/#', 'https://a@login.example', 'https://login.example/x'],
  },
  'Microsoft Exchange.enable_exchange': {
    good: [false, 'false', true],
    bad: ['on'],
    extra: { 'Microsoft Exchange': { exchange_certificate_thumbprint: THUMB } },
  },
  'Microsoft Exchange.exchange_certificate_thumbprint': { good: [THUMB], bad: ['thumb'] },
  'Sync Filters.graph_users_filter': {
    good: [
      "startswith(department,'Sales')",
      'assignedLicenses/any(x:x/skuId eq 06ebc4ee-1bb5-47dd-8120-11324bc54e06)',
    ],
    bad: ['department = "Sales"', "contains(displayName,'a')", "(department eq 'x'"],
  },
  'Sync Filters.teams_users_filter': {
    good: ["Department -eq 'Sales'", "DisplayName -like '*$(whoami)*'"],
    bad: ['Department -eq $(whoami)', "Department -match 'x'", 'DisplayName -eq $env:USERNAME'],
  },
  'Sync Filters.exchange_mailbox_filter': {
    good: ["RecipientTypeDetails -eq 'UserMailbox'"],
    bad: ["Name -eq 'a'; Remove-Mailbox x", '{ Name -eq 1 }'],
  },
  'Sync Filters.unmatched_teams_users': { good: ['flag', 'skip'], bad: ['drop'] },
};

describe('tenant fields', () => {
  it('stores filters in canonical form and says why a bad one is refused', () => {
    const t = validateTenant(
      validTenantInput({ 'Sync Filters': { teams_users_filter: 'Department -EQ "Sales"' } }),
    );
    expect(t['Sync Filters']).toEqual({
      teams_users_filter: "Department -eq 'Sales'",
      unmatched_teams_users: 'flag',
    });
    const problems = problemsOf(
      validTenantInput({ 'Sync Filters': { graph_users_filter: "department = 'x'" } }),
    );
    expect(problems).toEqual([
      {
        field: 'Sync Filters.graph_users_filter',
        message: expect.stringMatching(/^is not a valid Graph users filter \(OData\): .*position/),
      },
    ]);
  });

  it('has a case for every field of the model', () => {
    expect(Object.keys(CASES).sort()).toEqual(TENANT_FIELDS.map(fieldPath).sort());
  });

  for (const [path, { good, bad, extra }] of Object.entries(CASES)) {
    describe(path, () => {
      it.each(good.map((v) => [v]))('accepts %j', (value) => {
        expect(problemsOf(withField(path, value, extra))).toEqual([]);
      });
      it.each(bad.map((v) => [v]))('refuses %j, naming the field', (value) => {
        const problems = problemsOf(withField(path, value, extra));
        expect(problems.map((p) => p.field)).toContain(path);
      });
    });
  }

  it('requires the required fields, listing every one', () => {
    const problems = problemsOf({});
    const required = TENANT_FIELDS.filter((f) => f.required).map(fieldPath);
    for (const path of required) expect(problems).toContainEqual({ field: path, message: 'is required' });
  });

  it('applies defaults and parses flag strings', () => {
    const t = validateTenant(
      validTenantInput({
        'Microsoft Teams HTTP Proxy': {},
        'Microsoft 365': { msol_user_api_page_size: ' 250 ' },
        'Microsoft Exchange': {},
      }),
    );
    expect(t['Microsoft Teams HTTP Proxy']).toEqual({ use_proxy: false, use_http_proxy_auth: false });
    expect(t['Microsoft Exchange'].enable_exchange).toBe(false);
    expect(t['Microsoft 365'].msol_user_api_page_size).toBe(250);
    expect(t['Microsoft 365'].cloud).toBe('global');
    expect(t.hierarchy).toBe('provider.reseller.customer');
  });

  it('refuses unknown groups and fields by name', () => {
    const problems = problemsOf({
      ...validTenantInput(),
      Bogus: {},
      Tenant: { name: 'x', nmae: 'typo' },
    } as TenantInput);
    expect(problems.map((p) => p.field)).toEqual(expect.arrayContaining(['Bogus', 'Tenant.nmae']));
  });

  it('never echoes a password in an error', () => {
    const secret = 'p'.repeat(300);
    const problems = problemsOf(withField('Microsoft Teams.tenantPassword', secret));
    expect(JSON.stringify(problems)).not.toContain(secret);
  });

  it('checks the hierarchy place', () => {
    expect(problemsOf(validTenantInput({ hierarchy: 'a..b' })).map((p) => p.field)).toEqual(['hierarchy']);
    expect(problemsOf(validTenantInput({ hierarchy: 'a.b-c.d_e' }))).toEqual([]);
    expect(validateTenant(validTenantInput({ hierarchy: '' })).hierarchy).toBe('sys');
  });
});

describe('cross-field rules', () => {
  it('HTTP proxy authentication needs its user, password and use_proxy', () => {
    const problems = problemsOf(
      validTenantInput({ 'Microsoft Teams HTTP Proxy': { use_http_proxy_auth: true } }),
    );
    expect(problems.map((p) => p.field).sort()).toEqual([
      'Microsoft Teams HTTP Proxy.http_proxy_password',
      'Microsoft Teams HTTP Proxy.http_proxy_username',
      'Microsoft Teams HTTP Proxy.use_proxy',
    ]);
    expect(
      problemsOf(
        validTenantInput({
          'Microsoft Teams HTTP Proxy': {
            use_proxy: true,
            use_http_proxy_auth: true,
            http_proxy_username: 'u',
            http_proxy_password: 'p',
          },
        }),
      ),
    ).toEqual([]);
  });

  it('Graph needs a client secret, or a thumbprint with a stored certificate', () => {
    const noSecret = { client_secret: null };
    expect(problemsOf(validTenantInput({ 'Microsoft 365': noSecret })).map((p) => p.field)).toEqual([
      'Microsoft 365.client_secret',
    ]);
    expect(
      problemsOf(
        validTenantInput({ 'Microsoft 365': { ...noSecret, graph_api_certificate_thumbprint: THUMB } }),
      ).map((p) => p.field),
    ).toEqual(['Microsoft 365.client_secret']);
    expect(
      problemsOf(
        validTenantInput({
          'Microsoft 365': { ...noSecret, graph_api_certificate_thumbprint: THUMB, certificate_bkey: 'c1' },
        }),
      ),
    ).toEqual([]);
  });

  it('Exchange enabled needs its certificate thumbprint', () => {
    expect(
      problemsOf(validTenantInput({ 'Microsoft Exchange': { enable_exchange: true } })).map((p) => p.field),
    ).toEqual(['Microsoft Exchange.exchange_certificate_thumbprint']);
    expect(
      problemsOf(
        validTenantInput({
          'Microsoft Exchange': { enable_exchange: true, exchange_certificate_thumbprint: THUMB },
        }),
      ),
    ).toEqual([]);
  });

  it('Teams service-account sign-in needs the account; certificate sign-in needs the thumbprint instead', () => {
    const noAccount = { tenantUsername: null, tenantPassword: null };
    expect(
      problemsOf(validTenantInput({ 'Microsoft Teams': noAccount }))
        .map((p) => p.field)
        .sort(),
    ).toEqual(['Microsoft Teams.tenantPassword', 'Microsoft Teams.tenantUsername']);
    expect(
      problemsOf(
        validTenantInput({ 'Microsoft Teams': { ...noAccount, authentication: 'certificate' } }),
      ).map((p) => p.field),
    ).toEqual(['Microsoft Teams.certificate_thumbprint']);
    expect(
      problemsOf(
        validTenantInput({
          'Microsoft Teams': { ...noAccount, authentication: 'certificate', certificate_thumbprint: THUMB },
        }),
      ),
    ).toEqual([]);
  });
});

describe('tenant helpers', () => {
  it('blank page sizes mean 999', () => {
    const t = validateTenant(validTenantInput());
    expect([userPageSize(t), groupPageSize(t)]).toEqual([999, 999]);
    const sized = validateTenant(
      validTenantInput({ 'Microsoft 365': { msol_user_api_page_size: 7, groups_api_page_size: 1 } }),
    );
    expect([userPageSize(sized), groupPageSize(sized)]).toEqual([7, 1]);
  });

  it('masks every password and proxy credential, and lists them as secrets', () => {
    const t = validateTenant(
      validTenantInput({
        'Microsoft 365': {
          https_proxy: 'https://proxy.example:3128/',
          proxy_username: 'pu',
          proxy_password: 'pp-secret',
        },
        'Microsoft Exchange': { enable_exchange: true, exchange_certificate_thumbprint: THUMB },
      }),
    );
    const masked = maskTenant(t);
    const text = JSON.stringify(masked);
    for (const secret of tenantSecrets(t)) expect(text).not.toContain(secret);
    expect(tenantSecrets(t)).toEqual(
      expect.arrayContaining(['Proxy-P4ss!', 'Teams-P4ss!', 'graph-secret-value', THUMB, 'pp-secret']),
    );
    expect(masked['Microsoft 365'].proxy_password).toBe(MASK);
    expect(masked['Microsoft 365'].https_proxy).toBe('https://proxy.example:3128/');
    expect(t['Microsoft 365'].client_secret).toBe('graph-secret-value'); // the original is untouched
  });

  it('an update keeps masked passwords and clears fields given as null', () => {
    const t = validateTenant(validTenantInput({ Tenant: { name: 'A', description: 'old' } }));
    const merged = validateTenant(
      mergeTenantInput(t, {
        'Microsoft 365': { client_secret: MASK },
        Tenant: { description: null },
        'Microsoft Teams': { tenantPassword: 'new' },
      }),
    );
    expect(merged['Microsoft 365'].client_secret).toBe('graph-secret-value');
    expect(merged.Tenant.description).toBeUndefined();
    expect(merged['Microsoft Teams'].tenantPassword).toBe('new');
  });

  it('national clouds and overrides give the Graph endpoints and scope', () => {
    const base = validTenantInput();
    expect(graphEndpoints(validateTenant(base))).toEqual({
      graphBaseUrl: 'https://graph.microsoft.com',
      authorityHost: 'https://login.microsoftonline.com',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(
      graphEndpoints(validateTenant(validTenantInput({ 'Microsoft 365': { cloud: 'usgov_high' } }))).scope,
    ).toBe('https://graph.microsoft.us/.default');
    expect(
      graphEndpoints(validateTenant(validTenantInput({ 'Microsoft 365': { cloud: 'china' } }))).authorityHost,
    ).toBe('https://login.chinacloudapi.cn');
    const local = graphEndpoints(
      validateTenant(
        validTenantInput({
          'Microsoft 365': {
            graph_base_url: 'https://127.0.0.1:8443/',
            authority_host: 'https://127.0.0.1:8443',
          },
        }),
      ),
    );
    expect(local).toEqual({
      graphBaseUrl: 'https://127.0.0.1:8443',
      authorityHost: 'https://127.0.0.1:8443',
      scope: 'https://127.0.0.1:8443/.default',
    });
  });

  it('parses one or several PowerShell proxies with optional ports', () => {
    expect(parsePowerShellHosts('ps1.example.net, 10.0.0.7:5986,[::1]:5985')).toEqual([
      { host: 'ps1.example.net' },
      { host: '10.0.0.7', port: 5986 },
      { host: '::1', port: 5985 },
    ]);
  });

  it('lists a place and the places above it', () => {
    expect(hierarchyPlaces('a.b.c')).toEqual(['a.b.c', 'a.b', 'a']);
  });
});
