import { randomUUID } from 'node:crypto';
import { escapeText as escapeXml } from './xml.js';
import { ACTION, ANONYMOUS, FAULT_CODE, NS } from '../../connectors/winrm/wsman.js';

/** Response envelopes as a Windows WinRM service writes them (prefixes and shapes from recorded fixtures). */

const ENVELOPE_OPEN =
  `<s:Envelope xml:lang="en-US" xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:x="${NS.x}" ` +
  `xmlns:w="${NS.w}" xmlns:rsp="${NS.rsp}" xmlns:p="${NS.p}">`;

export function responseEnvelope(action: string, relatesTo: string, body: string): string {
  return (
    ENVELOPE_OPEN +
    `<s:Header><a:Action>${escapeXml(action)}</a:Action>` +
    `<a:MessageID>uuid:${randomUUID().toUpperCase()}</a:MessageID>` +
    `<a:To>${ANONYMOUS}</a:To><a:RelatesTo>${escapeXml(relatesTo)}</a:RelatesTo></s:Header>` +
    `<s:Body>${body}</s:Body></s:Envelope>`
  );
}

export function createResponse(
  relatesTo: string,
  endpoint: string,
  shellId: string,
  owner: string,
  clientIp: string,
): string {
  return responseEnvelope(
    `${ACTION.Create}Response`,
    relatesTo,
    `<x:ResourceCreated><a:Address>${escapeXml(endpoint)}</a:Address><a:ReferenceParameters>` +
      `<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` +
      `<w:SelectorSet><w:Selector Name="ShellId">${shellId}</w:Selector></w:SelectorSet>` +
      `</a:ReferenceParameters></x:ResourceCreated>` +
      `<rsp:Shell xmlns:rsp="${NS.rsp}"><rsp:ShellId>${shellId}</rsp:ShellId>` +
      `<rsp:ResourceUri>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>` +
      `<rsp:Owner>${escapeXml(owner)}</rsp:Owner><rsp:ClientIP>${escapeXml(clientIp)}</rsp:ClientIP>` +
      `<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>` +
      `<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`,
  );
}

export interface FaultSpec {
  code: 's:Sender' | 's:Receiver';
  subcode: string;
  reason: string;
  wsmanCode: number;
  /** Quota faults carry MSFT_WmiError instead of WSManFault. */
  wmi?: boolean;
}

export function faultEnvelope(relatesTo: string | undefined, machine: string, f: FaultSpec): string {
  const detail = f.wmi
    ? `<p:MSFT_WmiError b:IsCIM_Error="true" xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" ` +
      `xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError" ` +
      `xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
      `xsi:type="p:MSFT_WmiError_Type"><p:error_Code xsi:type="cim:cimUnsignedInt">${f.wsmanCode}</p:error_Code>` +
      `<p:Message xsi:type="cim:cimString">${escapeXml(f.reason)}</p:Message></p:MSFT_WmiError>`
    : `<f:WSManFault xmlns:f="${NS.f}" Code="${f.wsmanCode}" Machine="${escapeXml(machine)}">` +
      `<f:Message>${escapeXml(f.reason)}</f:Message></f:WSManFault>`;
  return responseEnvelope(
    ACTION.Fault,
    relatesTo ?? 'uuid:00000000-0000-0000-0000-000000000000',
    `<s:Fault><s:Code><s:Value>${f.code}</s:Value><s:Subcode><s:Value>${f.subcode}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en-US">${escapeXml(f.reason)}</s:Text></s:Reason>` +
      `<s:Detail>${detail}</s:Detail></s:Fault>`,
  );
}

export const FAULTS = {
  timedOut: (): FaultSpec => ({
    code: 's:Receiver',
    subcode: 'w:TimedOut',
    reason:
      'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.',
    wsmanCode: FAULT_CODE.operationTimeout,
  }),
  shellNotFound: (shellId: string): FaultSpec => ({
    code: 's:Sender',
    subcode: 'w:InvalidSelectors',
    reason:
      `The request for the Windows Remote Shell with ShellId ${shellId} failed because the shell was not found on the server. ` +
      'Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. ' +
      'Provide the correct ShellId or create a new shell and retry the operation.',
    wsmanCode: FAULT_CODE.shellNotFound,
  }),
  maxShells: (limit: number): FaultSpec => ({
    code: 's:Receiver',
    subcode: 'w:QuotaLimit',
    reason:
      `The WS-Management service cannot process the request. This user is allowed a maximum number of ${limit} concurrent shells, ` +
      'which has been exceeded. Close existing shells or raise the quota for this user.',
    wsmanCode: FAULT_CODE.maxShellsPerUser,
    wmi: true,
  }),
  maxOperations: (limit: number): FaultSpec => ({
    code: 's:Receiver',
    subcode: 'w:QuotaLimit',
    reason:
      `The WS-Management service cannot process the request. This user is allowed a maximum number of ${limit} concurrent operations, ` +
      'which has been exceeded. Close existing operations for this user, or raise the quota for this user.',
    wsmanCode: FAULT_CODE.maxConcurrentOperationsPerUser,
    wmi: true,
  }),
  invalidParameter: (what: string): FaultSpec => ({
    code: 's:Sender',
    subcode: 'w:InvalidParameter',
    reason: `The parameter is incorrect. ${what}`,
    wsmanCode: 87,
  }),
  actionNotSupported: (action: string): FaultSpec => ({
    code: 's:Sender',
    subcode: 'a:ActionNotSupported',
    reason: `The action ${action} is not supported by the service.`,
    wsmanCode: 2150858771,
  }),
};
