/**
 * The cmdlets of the simulated tenant: Connect-MicrosoftTeams / Connect-ExchangeOnline with their
 * sign-in checks, and the Get-* cmdlets a full pull calls, answered from the shared data set with the
 * real cmdlets' paging rules (Get-CsCallQueue returns 100 without -First, Get-CsPhoneNumberAssignment
 * -Top at most 1000, Get-EXOMailbox 1000 without -ResultSize Unlimited).
 */
import { randomUUID } from 'node:crypto';
import { mailboxes, phoneNumberAssignments, teamsUsers, type Dataset } from '../dataset.js';
import { FilterError, compilePowerShellFilter, type RecordPredicate } from './ps-filter.js';
import {
  PsCredential,
  PsDate,
  PsEnum,
  PsError,
  SecureStr,
  parameterNotFound,
  type PsObject,
} from './ps-values.js';

export interface Account {
  username: string;
  password: string;
}

export interface SignInFaults {
  /** Every Teams service-account sign-in asks for MFA (AADSTS50076), as after an MFA rollout. */
  signIn?: 'mfa_required';
}

export interface Session {
  ds: Dataset;
  teamsAccounts: readonly Account[];
  certificateThumbprints: readonly string[];
  proxyCredentials?: readonly Account[];
  faults: SignInFaults;
  modules: Set<string>;
  teams?: { account: string };
  exchange?: { commands?: Set<string> };
  proxyCredential?: PsCredential;
  /** Warnings the cmdlets wrote (flushed to stderr as CLIXML by the host). */
  warnings: string[];
  /** Told each -Filter a cmdlet received, exactly as bound (tests check it arrived as a literal). */
  onFilter?: (command: string, filter: unknown) => void;
  /** Told each successful sign-in (`teams:<account>`, `exchange:<app id>@<organization>`). */
  onSignIn?: (account: string) => void;
}

/** The -Filter of a call as a predicate (none: everything), refused as the cmdlet refuses it. */
function filterArg(args: BoundArgs, session: Session, command: string): RecordPredicate | undefined {
  const filter = arg(args, 'Filter');
  if (filter === undefined) return undefined;
  session.onFilter?.(command, filter);
  if (typeof filter !== 'string') {
    throw new PsError(
      `Cannot bind parameter 'Filter'. The filter must be a string.`,
      `InvalidArgument: (:) [${command}], ParameterBindingException`,
      `CannotConvertArgument,${command}`,
      command,
    );
  }
  try {
    return compilePowerShellFilter(filter);
  } catch (error) {
    if (!(error instanceof FilterError)) throw error;
    throw new PsError(
      `Invalid filter syntax: ${error.message}. For a description of the filter parameter syntax see the command help.`,
      `InvalidArgument: (:) [${command}], ArgumentException`,
      `InvalidFilter,${command}`,
      command,
    );
  }
}

export interface BoundArgs {
  named: Map<string, unknown>;
  positional: unknown[];
}

export interface Cmdlet {
  /** Parameters the cmdlet accepts (any other is a ParameterBindingException, as in PowerShell). */
  params: readonly string[];
  run(args: BoundArgs, session: Session, input: Iterable<unknown> | undefined): Iterable<unknown>;
}

function arg(args: BoundArgs, name: string): unknown {
  return args.named.get(name.toLowerCase());
}

function toArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function intArg(args: BoundArgs, command: string, name: string, fallback: number): number {
  const v = arg(args, name);
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new PsError(
      `Cannot bind parameter '${name}'. Cannot convert value "${String(v)}" to type "System.Int32".`,
      `InvalidArgument: (:) [${command}], ParameterBindingException`,
      `CannotConvertArgumentNoMessage,${command}`,
      command,
    );
  }
  return n;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** The enum-typed properties of the simulated objects, with their .NET values. */
const ENUMS: Record<string, Record<string, number>> = {
  RoutingMethod: { Attendant: 0, Serial: 1, RoundRobin: 2, LongestIdle: 3 },
  RecipientTypeDetails: {
    UserMailbox: 1,
    SharedMailbox: 4,
    RoomMailbox: 16,
    EquipmentMailbox: 32,
    MailUniversalDistributionGroup: 256,
    MailUniversalSecurityGroup: 1024,
  },
};

/** A data-set object as the module hands it out: a copy, dates as DateTime, enums as enums. */
export function asPsObject(o: PsObject): PsObject {
  const out: PsObject = {};
  for (const [k, v] of Object.entries(o)) {
    const e = ENUMS[k];
    if (typeof v === 'string' && ISO.test(v)) out[k] = new PsDate(Date.parse(v));
    else if (e && typeof v === 'string' && e[v] !== undefined) out[k] = new PsEnum(v, e[v]);
    else out[k] = structuredClone(v);
  }
  return out;
}

function requireTeams(session: Session, command: string): void {
  if (!session.teams) {
    throw new PsError(
      'You must call the Connect-MicrosoftTeams cmdlet before calling any other cmdlets.',
      `NotSpecified: (:) [${command}], UnauthorizedAccessException`,
      `${command}`,
      command,
    );
  }
}

function requireExchange(session: Session, command: string): void {
  if (!session.exchange) {
    throw new PsError(
      `The term '${command}' is not recognized as the name of a cmdlet, function, script file, or operable program. ` +
        'Connect-ExchangeOnline must run first.',
      `ObjectNotFound: (${command}:String) [], CommandNotFoundException`,
      'CommandNotFoundException',
      command,
    );
  }
  const allowed = session.exchange.commands;
  if (allowed && !allowed.has(command.toLowerCase())) {
    throw new PsError(
      `The term '${command}' is not recognized as the name of a cmdlet, function, script file, or operable program.`,
      `ObjectNotFound: (${command}:String) [], CommandNotFoundException`,
      'CommandNotFoundException',
      command,
    );
  }
}

function traceIds(): string {
  return `Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString().replace('T', ' ').slice(0, 19)}Z`;
}

function signInError(message: string, command = 'Connect-MicrosoftTeams'): PsError {
  return new PsError(
    message,
    `AuthenticationError: (:) [${command}], AadAuthenticationFailedException`,
    command === 'Connect-MicrosoftTeams'
      ? 'Connect-MicrosoftTeams,Microsoft.TeamsCmdlets.Powershell.Connect.ConnectMicrosoftTeams'
      : 'Microsoft.Exchange.Management.ExoPowershellSnapin.ConnectExchangeOnline',
    command,
  );
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkProxy(session: Session, command: string): void {
  if (!session.proxyCredentials) return;
  const c = session.proxyCredential;
  const ok =
    c !== undefined &&
    session.proxyCredentials.some((a) => a.username === c.userName && a.password === c.password.plain);
  if (!ok) {
    throw new PsError(
      'The remote server returned an error: (407) Proxy Authentication Required.',
      `NotSpecified: (:) [${command}], WebException`,
      `System.Net.WebException,${command}`,
      command,
    );
  }
}

const connectTeams: Cmdlet = {
  params: [
    'Credential',
    'CertificateThumbprint',
    'ApplicationId',
    'TenantId',
    'TeamsEnvironmentName',
    'AccountId',
    'AccessTokens',
  ],
  *run(args, session) {
    checkProxy(session, 'Connect-MicrosoftTeams');
    const tenantId = arg(args, 'TenantId');
    const credential = arg(args, 'Credential');
    const thumbprint = arg(args, 'CertificateThumbprint');
    let account: string;
    if (credential !== undefined) {
      if (!(credential instanceof PsCredential)) {
        throw new PsError(
          "Cannot process argument transformation on parameter 'Credential'. A PSCredential is required.",
          'InvalidData: (:) [Connect-MicrosoftTeams], ParameterBindingArgumentTransformationException',
          'ParameterArgumentTransformationError,Connect-MicrosoftTeams',
          'Connect-MicrosoftTeams',
        );
      }
      const known = session.teamsAccounts.find(
        (a) => a.username.toLowerCase() === credential.userName.toLowerCase(),
      );
      if (!known) {
        throw signInError(
          `One or more errors occurred.: AADSTS50034: The user account {EUII Hidden} does not exist in the ${session.ds.tenantId} directory. ` +
            `To sign into this application, the account must be added to the directory. ${traceIds()}`,
        );
      }
      if (known.password !== credential.password.plain) {
        throw signInError(
          `One or more errors occurred.: AADSTS50126: Error validating credentials due to invalid username or password. ${traceIds()}`,
        );
      }
      if (session.faults.signIn === 'mfa_required') {
        throw signInError(
          'One or more errors occurred.: AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, ' +
            `you must use multi-factor authentication to access '48ac35b8-9aa8-4d74-927d-1f4a14a0b239'. ${traceIds()}`,
        );
      }
      account = known.username;
    } else if (thumbprint !== undefined) {
      const appId = String(arg(args, 'ApplicationId') ?? '');
      if (!GUID.test(appId)) {
        throw signInError(
          `One or more errors occurred.: AADSTS700016: Application with identifier '${appId}' was not found in the directory. ${traceIds()}`,
        );
      }
      if (!session.certificateThumbprints.some((t) => t.toUpperCase() === String(thumbprint).toUpperCase())) {
        throw signInError(
          `Certificate with thumbprint '${String(thumbprint)}' was not found in certificate store CurrentUser\\My or LocalMachine\\My.`,
        );
      }
      account = appId;
    } else {
      throw signInError(
        'One or more errors occurred.: A window handle must be configured. Interactive sign-in is not possible in a non-interactive session.',
      );
    }
    if (String(tenantId ?? session.ds.tenantId).toLowerCase() !== session.ds.tenantId.toLowerCase()) {
      throw signInError(
        `One or more errors occurred.: AADSTS90002: Tenant '${String(tenantId)}' not found. ${traceIds()}`,
      );
    }
    session.teams = { account };
    session.onSignIn?.(`teams:${account.toLowerCase()}`);
    yield {
      Account: account,
      Environment: 'AzureCloud',
      Tenant: session.ds.tenantId,
      TenantId: session.ds.tenantId,
    };
  },
};

const connectExchange: Cmdlet = {
  params: [
    'CertificateThumbprint',
    'AppId',
    'Organization',
    'ExchangeEnvironmentName',
    'ShowBanner',
    'SkipLoadingFormatData',
    'CommandName',
    'Credential',
  ],
  *run(args, session) {
    const thumbprint = arg(args, 'CertificateThumbprint');
    const appId = String(arg(args, 'AppId') ?? '');
    const organization = String(arg(args, 'Organization') ?? '');
    if (thumbprint === undefined) {
      throw signInError(
        'Unattended sign-in needs -CertificateThumbprint with -AppId and -Organization.',
        'Connect-ExchangeOnline',
      );
    }
    if (!GUID.test(appId)) {
      throw signInError(
        `AADSTS700016: Application with identifier '${appId}' was not found in the directory.`,
        'Connect-ExchangeOnline',
      );
    }
    if (!session.certificateThumbprints.some((t) => t.toUpperCase() === String(thumbprint).toUpperCase())) {
      throw signInError(
        'No certificate found for the given CertificateThumbprint in the current user certificate store.',
        'Connect-ExchangeOnline',
      );
    }
    // Microsoft documents -Organization for app-only sign-in as the organization's primary (initial)
    // *.onmicrosoft.com domain; the simulated tenant accepts only that, not its tenant id or a vanity domain.
    const org = organization.toLowerCase();
    if (org !== session.ds.initialDomain.toLowerCase()) {
      if (GUID.test(organization)) {
        throw signInError(
          `-Organization '${organization}' is a tenant id: for certificate sign-in it must be the organization's ` +
            'initial domain, such as contoso.onmicrosoft.com.',
          'Connect-ExchangeOnline',
        );
      }
      throw signInError(`AADSTS90002: Tenant '${organization}' not found.`, 'Connect-ExchangeOnline');
    }
    const commands = arg(args, 'CommandName');
    session.onSignIn?.(`exchange:${appId.toLowerCase()}@${org}`);
    session.exchange = {
      ...(commands === undefined
        ? {}
        : { commands: new Set(toArray(commands).map((c) => String(c).toLowerCase())) }),
    };
    if (arg(args, 'ShowBanner') !== false)
      yield 'This V3 EXO PowerShell module contains new REST API backed Exchange Online cmdlets.';
  },
};

/** A Teams cmdlet over a list: optional -Identity, nothing else. */
function teamsList(command: string, list: (ds: Dataset) => PsObject[], identity = 'Identity'): Cmdlet {
  return {
    params: ['Identity', 'Filter'],
    *run(args, session) {
      requireTeams(session, command);
      const id = arg(args, 'Identity');
      for (const o of list(session.ds)) {
        if (id === undefined || String(o[identity]).toLowerCase() === String(id).toLowerCase())
          yield asPsObject(o);
      }
    },
  };
}

/** -First (default 100) / -Skip paging, as Get-CsCallQueue and Get-CsAutoAttendant do. */
function firstSkip(command: string, list: (ds: Dataset) => PsObject[]): Cmdlet {
  return {
    params: ['Identity', 'First', 'Skip', 'NameFilter', 'Sort', 'Descending', 'ExcludeContent'],
    *run(args, session) {
      requireTeams(session, command);
      const first = intArg(args, command, 'First', 100);
      const skip = intArg(args, command, 'Skip', 0);
      for (const o of list(session.ds).slice(skip, skip + first)) yield asPsObject(o);
    },
  };
}

function policyCmdlet(command: string, type: string): Cmdlet {
  return teamsList(command, (ds) =>
    ds.teams.policies
      .filter((p) => p.PolicyType === type)
      .map((p) => {
        // The real cmdlets know nothing of our PolicyType / PolicyKey: the script adds them.
        const { PolicyType: _t, PolicyKey: _k, ...rest } = p;
        return rest;
      }),
  );
}

const ALWAYS_USER_PROPERTIES = ['Identity', 'UserPrincipalName', 'Alias', 'AccountEnabled', 'DisplayName'];

const getCsOnlineUser: Cmdlet = {
  params: ['Identity', 'ResultSize', 'Properties', 'Filter', 'AccountType'],
  *run(args, session) {
    requireTeams(session, 'Get-CsOnlineUser');
    const limit =
      arg(args, 'ResultSize') === undefined ? Infinity : intArg(args, 'Get-CsOnlineUser', 'ResultSize', 0);
    const properties = arg(args, 'Properties');
    const keep =
      properties === undefined
        ? undefined
        : new Set(
            [...ALWAYS_USER_PROPERTIES, ...toArray(properties).map(String)].map((p) => p.toLowerCase()),
          );
    const test = filterArg(args, session, 'Get-CsOnlineUser');
    let n = 0;
    for (const user of teamsUsers(session.ds)) {
      if (test && !test(user)) continue;
      if (n++ >= limit) return;
      const o = asPsObject(user);
      if (keep) for (const k of Object.keys(o)) if (!keep.has(k.toLowerCase())) delete o[k];
      yield o;
    }
  },
};

const getPhoneNumbers: Cmdlet = {
  params: ['TelephoneNumber', 'Top', 'Skip', 'Filter', 'AssignedPstnTargetId'],
  *run(args, session) {
    requireTeams(session, 'Get-CsPhoneNumberAssignment');
    const top = intArg(args, 'Get-CsPhoneNumberAssignment', 'Top', 500);
    if (top > 1000) {
      throw new PsError(
        'The Top parameter must be at most 1000. Use -Skip to read further numbers.',
        'InvalidArgument: (:) [Get-CsPhoneNumberAssignment], ArgumentException',
        'BadRequest,Microsoft.Teams.ConfigAPI.Cmdlets.Generated.Cmdlets.GetCsPhoneNumberAssignment_Get',
        'Get-CsPhoneNumberAssignment',
      );
    }
    const skip = intArg(args, 'Get-CsPhoneNumberAssignment', 'Skip', 0);
    for (const o of phoneNumberAssignments(session.ds).slice(skip, skip + top)) yield asPsObject(o);
  },
};

function resultSize(args: BoundArgs, command: string): number {
  const v = arg(args, 'ResultSize');
  if (v === undefined) return 1000;
  if (typeof v === 'string' && v.toLowerCase() === 'unlimited') return Infinity;
  return intArg(args, command, 'ResultSize', 1000);
}

function* limited(session: Session, items: PsObject[], limit: number): Iterable<PsObject> {
  let n = 0;
  for (const o of items) {
    if (n++ >= limit) {
      session.warnings.push(
        'There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.',
      );
      return;
    }
    yield asPsObject(o);
  }
}

const getExoMailbox: Cmdlet = {
  params: ['Identity', 'ResultSize', 'RecipientTypeDetails', 'PropertySets', 'Properties', 'Filter'],
  *run(args, session) {
    requireExchange(session, 'Get-EXOMailbox');
    const types = arg(args, 'RecipientTypeDetails');
    const wanted =
      types === undefined ? undefined : new Set(toArray(types).map((t) => String(t).toLowerCase()));
    const test = filterArg(args, session, 'Get-EXOMailbox');
    const all = mailboxes(session.ds).filter(
      (m) => (!wanted || wanted.has(String(m.RecipientTypeDetails).toLowerCase())) && (!test || test(m)),
    );
    yield* limited(session, all, resultSize(args, 'Get-EXOMailbox'));
  },
};

const getDistributionGroup: Cmdlet = {
  params: ['Identity', 'ResultSize', 'Filter'],
  *run(args, session) {
    requireExchange(session, 'Get-DistributionGroup');
    yield* limited(
      session,
      session.ds.exchange.distributionGroups,
      resultSize(args, 'Get-DistributionGroup'),
    );
  },
};

const disconnectExchange: Cmdlet = {
  params: ['Confirm'],
  run(_args, session) {
    session.exchange = undefined;
    return [];
  },
};

const disconnectTeams: Cmdlet = {
  params: [],
  run(_args, session) {
    session.teams = undefined;
    return [];
  },
};

const importModule: Cmdlet = {
  params: ['Name', 'ErrorAction', 'RequiredVersion', 'MinimumVersion'],
  run(args, session) {
    const name = String(arg(args, 'Name') ?? args.positional[0] ?? '');
    const known = ['microsoftteams', 'exchangeonlinemanagement'];
    if (!known.includes(name.toLowerCase())) {
      throw new PsError(
        `The specified module '${name}' was not loaded because no valid module file was found in any module directory.`,
        `ResourceUnavailable: (${name}:String) [Import-Module], FileNotFoundException`,
        'Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand',
        'Import-Module',
      );
    }
    session.modules.add(name.toLowerCase());
    if (session.modules.size > 1) {
      // Both modules ship their own Microsoft.Identity.Client: one process cannot load both.
      throw new PsError(
        "Could not load file or assembly 'Microsoft.Identity.Client, Version=4.61.3.0, Culture=neutral, PublicKeyToken=0a613f4dd989e8ae' " +
          'or one of its dependencies. A different version of this assembly is already loaded.',
        'NotSpecified: (:) [Import-Module], FileLoadException',
        'System.IO.FileLoadException,Microsoft.PowerShell.Commands.ImportModuleCommand',
        'Import-Module',
      );
    }
    return [];
  },
};

const convertToSecureString: Cmdlet = {
  params: ['String', 'AsPlainText', 'Force', 'Key', 'SecureKey'],
  *run(args) {
    const value = arg(args, 'String') ?? args.positional[0];
    if (arg(args, 'AsPlainText') !== true || arg(args, 'Force') !== true) {
      throw new PsError(
        'ConvertTo-SecureString needs -AsPlainText -Force for plain text input.',
        'InvalidArgument: (:) [ConvertTo-SecureString], ArgumentException',
        'ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand',
        'ConvertTo-SecureString',
      );
    }
    yield new SecureStr(String(value));
  },
};

const newObject: Cmdlet = {
  params: ['TypeName', 'ArgumentList'],
  *run(args) {
    const type = String(arg(args, 'TypeName') ?? args.positional[0] ?? '');
    const list = toArray(arg(args, 'ArgumentList') ?? args.positional[1]);
    if (/^(System\.Management\.Automation\.)?PSCredential$/i.test(type)) {
      const [user, password] = list;
      if (typeof user !== 'string' || !(password instanceof SecureStr)) {
        throw new PsError(
          'Cannot find an overload for "PSCredential" and the argument count: "2".',
          'InvalidOperation: (:) [New-Object], MethodException',
          'ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand',
          'New-Object',
        );
      }
      yield new PsCredential(user, password);
      return;
    }
    throw new PsError(
      `The simulated PowerShell proxy cannot create a '${type}'.`,
      'NotImplemented: (:) [New-Object], NotSupportedException',
      'SimulatorUnsupported',
      'New-Object',
    );
  },
};

export const CMDLETS: Record<string, Cmdlet> = Object.fromEntries(
  Object.entries({
    'Import-Module': importModule,
    'ConvertTo-SecureString': convertToSecureString,
    'New-Object': newObject,
    'Connect-MicrosoftTeams': connectTeams,
    'Disconnect-MicrosoftTeams': disconnectTeams,
    'Connect-ExchangeOnline': connectExchange,
    'Disconnect-ExchangeOnline': disconnectExchange,
    'Get-CsOnlineUser': getCsOnlineUser,
    'Get-CsTenantDialPlan': teamsList('Get-CsTenantDialPlan', (ds) => ds.teams.dialPlans),
    'Get-CsOnlineVoiceRoutingPolicy': policyCmdlet(
      'Get-CsOnlineVoiceRoutingPolicy',
      'OnlineVoiceRoutingPolicy',
    ),
    'Get-CsTeamsCallingPolicy': policyCmdlet('Get-CsTeamsCallingPolicy', 'TeamsCallingPolicy'),
    'Get-CsTeamsMeetingPolicy': policyCmdlet('Get-CsTeamsMeetingPolicy', 'TeamsMeetingPolicy'),
    'Get-CsTeamsMessagingPolicy': policyCmdlet('Get-CsTeamsMessagingPolicy', 'TeamsMessagingPolicy'),
    'Get-CsTeamsEmergencyCallingPolicy': policyCmdlet(
      'Get-CsTeamsEmergencyCallingPolicy',
      'TeamsEmergencyCallingPolicy',
    ),
    'Get-CsTeamsEmergencyCallRoutingPolicy': policyCmdlet(
      'Get-CsTeamsEmergencyCallRoutingPolicy',
      'TeamsEmergencyCallRoutingPolicy',
    ),
    'Get-CsOnlineVoicemailPolicy': policyCmdlet('Get-CsOnlineVoicemailPolicy', 'OnlineVoicemailPolicy'),
    'Get-CsTeamsCallParkPolicy': policyCmdlet('Get-CsTeamsCallParkPolicy', 'TeamsCallParkPolicy'),
    'Get-CsTeamsIPPhonePolicy': policyCmdlet('Get-CsTeamsIPPhonePolicy', 'TeamsIPPhonePolicy'),
    'Get-CsCallingLineIdentity': policyCmdlet('Get-CsCallingLineIdentity', 'CallingLineIdentity'),
    'Get-CsOnlinePstnUsage': teamsList('Get-CsOnlinePstnUsage', (ds) => [
      { Identity: 'Global', Usage: ds.teams.pstnUsages.map((u) => u.Usage) },
    ]),
    'Get-CsOnlineVoiceRoute': teamsList('Get-CsOnlineVoiceRoute', (ds) => ds.teams.voiceRoutes),
    'Get-CsOnlinePSTNGateway': teamsList('Get-CsOnlinePSTNGateway', (ds) => ds.teams.pstnGateways),
    'Get-CsCallQueue': firstSkip('Get-CsCallQueue', (ds) => ds.teams.callQueues),
    'Get-CsAutoAttendant': firstSkip('Get-CsAutoAttendant', (ds) => ds.teams.autoAttendants),
    'Get-CsOnlineApplicationInstance': teamsList(
      'Get-CsOnlineApplicationInstance',
      (ds) => ds.teams.resourceAccounts,
      'ObjectId',
    ),
    'Get-CsPhoneNumberAssignment': getPhoneNumbers,
    'Get-EXOMailbox': getExoMailbox,
    'Get-DistributionGroup': getDistributionGroup,
  }).map(([name, cmdlet]) => [name.toLowerCase(), { ...cmdlet, name }]),
);

/** Checks every named argument against the cmdlet's parameters, as PowerShell's binder does. */
export function checkParameters(name: string, cmdlet: Cmdlet, args: BoundArgs): void {
  const allowed = new Set(
    [...cmdlet.params, 'ErrorAction', 'WarningAction', 'Verbose'].map((p) => p.toLowerCase()),
  );
  for (const key of args.named.keys()) if (!allowed.has(key)) throw parameterNotFound(name, key);
}
