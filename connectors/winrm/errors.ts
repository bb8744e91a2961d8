import { SyncError, type ErrorCode } from '../../domain/errors.js';
import { FAULT_CODE } from './wsman.js';
import { findFirst, path, type XmlElement } from './xml.js';

/** What a SOAP fault said, with prefixes stripped (`w:TimedOut` → `TimedOut`). */
export interface SoapFault {
  code?: string;
  subcode?: string;
  reason?: string;
  /** `WSManFault@Code` or `MSFT_WmiError/error_Code`, decimal. */
  wsmanCode?: number;
  /** `WSManFault/Message`, including a nested ProviderFault's text. */
  message?: string;
}

/**
 * An error from one PowerShell proxy. `proxy` is `host:port` (never a URL with credentials); the
 * message is written for the operator and never holds a secret.
 */
export class WinRmError extends SyncError {
  readonly proxy: string;
  readonly fault?: SoapFault;
  readonly httpStatus?: number;

  constructor(
    code: ErrorCode,
    message: string,
    details: { proxy: string; retryable?: boolean; fault?: SoapFault; httpStatus?: number; cause?: unknown },
  ) {
    super(code, message, { retryable: details.retryable, cause: details.cause });
    this.name = 'WinRmError';
    this.proxy = details.proxy;
    this.fault = details.fault;
    this.httpStatus = details.httpStatus;
  }
}

const localName = (qname: string | undefined) => qname?.replace(/^.*:/, '');

export function parseFault(envelope: XmlElement): SoapFault | undefined {
  const fault = findFirst(envelope, 'Fault');
  if (!fault) return undefined;
  const wsmanFault = findFirst(fault, 'WSManFault');
  const wmiCode = findFirst(fault, 'error_Code');
  const codeText = wsmanFault?.attrs.Code ?? wmiCode?.text;
  const wsmanCode = codeText === undefined ? undefined : Number(codeText.trim());
  const messageNode = wsmanFault ? findFirst(wsmanFault, 'Message') : findFirst(fault, 'Message');
  return {
    code: localName(path(fault, 'Code', 'Value')?.text.trim()),
    subcode: localName(path(fault, 'Code', 'Subcode', 'Value')?.text.trim()),
    reason: path(fault, 'Reason', 'Text')?.text.trim(),
    wsmanCode: Number.isFinite(wsmanCode) ? wsmanCode : undefined,
    message: messageNode ? flattenText(messageNode).trim() : undefined,
  };
}

function flattenText(node: XmlElement): string {
  return [node.text, ...node.children.map(flattenText)].filter((t) => t !== '').join(' ');
}

const FAULT_IDENTIFIER = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Maps a fault to an error with a stable code; what the client does with each is in client.ts.
 * The message and the error carry the fault's identifiers (WS-Management code, subcode, HTTP status),
 * never its Reason or Message text: what a proxy (or whatever answers in its place) writes is not
 * copied into run errors, API responses or logs. The text is only read to classify the fault.
 */
export function faultError(proxy: string, action: string, fault: SoapFault, httpStatus: number): WinRmError {
  const text = `${fault.reason ?? ''} ${fault.message ?? ''}`;
  const subcode = fault.subcode && FAULT_IDENTIFIER.test(fault.subcode) ? fault.subcode : undefined;
  const said = `fault ${fault.wsmanCode ?? 'without a code'}${subcode ? ` (${subcode})` : ''}, HTTP ${httpStatus}`;
  const details = {
    proxy,
    fault: {
      ...(fault.code && FAULT_IDENTIFIER.test(fault.code) ? { code: fault.code } : {}),
      ...(subcode ? { subcode } : {}),
      ...(fault.wsmanCode !== undefined ? { wsmanCode: fault.wsmanCode } : {}),
    },
    httpStatus,
  };
  switch (fault.wsmanCode) {
    case FAULT_CODE.operationTimeout:
      return new WinRmError(
        'WINRM_TIMEOUT',
        `${action} on PowerShell proxy ${proxy} timed out waiting for output`,
        {
          ...details,
          retryable: true,
        },
      );
    case FAULT_CODE.shellNotFound:
      return new WinRmError(
        'WINRM_SHELL_NOT_FOUND',
        `PowerShell proxy ${proxy} no longer knows the shell (restarted, idle timeout, or a load balancer switched nodes; ${said})`,
        { ...details, retryable: true },
      );
    case FAULT_CODE.maxShellsPerUser:
    case FAULT_CODE.maxConcurrentOperationsPerUser:
      return new WinRmError(
        'WINRM_QUOTA',
        `PowerShell proxy ${proxy} refused ${action}: a WinRM quota for the proxy account is exhausted ` +
          `(${said}). Lower the pool's shells per proxy or raise MaxShellsPerUser / ` +
          `MaxConcurrentOperationsPerUser on the proxy.`,
        { ...details, retryable: true },
      );
  }
  if (fault.subcode === 'QuotaLimit') {
    return new WinRmError(
      'WINRM_QUOTA',
      `PowerShell proxy ${proxy} refused ${action}: quota exceeded (${said}).`,
      {
        ...details,
        retryable: true,
      },
    );
  }
  if (
    /MaxEnvelopeSize/i.test(text) ||
    (fault.wsmanCode === FAULT_CODE.envelopeTooLarge && /size/i.test(text))
  ) {
    return new WinRmError(
      'WINRM_ENVELOPE_TOO_LARGE',
      `PowerShell proxy ${proxy} refused an oversized ${action} (${said})`,
      {
        ...details,
        retryable: true,
      },
    );
  }
  return new WinRmError(
    'WINRM_FAULT',
    `PowerShell proxy ${proxy} answered ${action} with a SOAP fault (${said}); its text is not shown, ` +
      "look the code up in the WinRM documentation or the proxy's event log (Microsoft-Windows-WinRM/Operational).",
    details,
  );
}

/** A 401 from WinRM has an empty body; say what usually causes it. */
export function unauthorizedError(proxy: string, username: string, https: boolean): WinRmError {
  return new WinRmError(
    'WINRM_AUTH',
    `PowerShell proxy ${proxy} refused Basic authentication for "${username}" (HTTP 401). Usual causes: ` +
      `a wrong Microsoft Teams Powershell.proxyPassword; Basic authentication disabled on the proxy ` +
      `(winrm set winrm/config/service/auth @{Basic="true"}); a domain account (Basic works only with ` +
      `local accounts)` +
      (https
        ? '.'
        : `; or unencrypted traffic refused over HTTP (winrm set winrm/config/service @{AllowUnencrypted="true"}, or use HTTPS on 5986).`),
    { proxy, httpStatus: 401 },
  );
}
