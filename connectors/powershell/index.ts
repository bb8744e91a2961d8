/** The PowerShell side of the engine: script builders, the JSON Lines contract and its decoders. */
export { psGuid, psInteger, psLiteral, psLiteralArray, psThumbprint, SINGLE_QUOTES } from './ps-quote.js';
export {
  EXCHANGE_KINDS,
  TEAMS_KINDS,
  scriptLine,
  type DoneRecord,
  type EndRecord,
  type ErrorRecord,
  type ObjectRecord,
  type ScriptRecord,
  type TeamsKind,
  type TextRecord,
} from './records.js';
export {
  buildTeamsPullScript,
  buildTeamsTestScript,
  TEAMS_USER_PROPERTIES,
  type TeamsPageSizes,
  type TeamsPullOptions,
} from './teams-script.js';
export {
  buildExchangePullScript,
  buildExchangeTestScript,
  type ExchangeKind,
  type ExchangeScriptOptions,
} from './exchange-script.js';
export {
  decodeJsonLines,
  JsonLinesDecoder,
  parseScriptLine,
  Utf8LineSplitter,
  type JsonLinesOptions,
} from './json-lines.js';
export { decodeClixml, decodeClixmlEscapes, decodeClixmlMessages, type ClixmlMessage } from './clixml.js';
export { normaliseDate, normaliseDates, normalisePsObject } from './normalise.js';
export {
  redactSecrets,
  scriptFailure,
  splitScriptOutput,
  type OutputChunk,
  type PowerShellApplication,
  type ScriptOutput,
  type ScriptOutputOptions,
} from './script-output.js';
export { powershellOutputLimits } from './config.js';
export { POWERSHELL_DEFAULTS } from './defaults.js';
export {
  powershellSessionAccount,
  powershellSessionsKey,
  sessionApplicationLabel,
} from './session-account.js';
