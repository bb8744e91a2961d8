/**
 * WS-Management names used by the WinRS cmd shell (MS-WSMV), as pywinrm, pypsrp and
 * masterzen/winrm send them. One place, so the client and the simulator cannot drift apart.
 */

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  w: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  x: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  f: 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
  wsmid: 'http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd',
} as const;

export const CMD_SHELL_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

export const ACTION = {
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  Command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  Send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
  Receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  Signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
  Fault: 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault',
} as const;

export type ShellAction = keyof Omit<typeof ACTION, 'Fault'>;

export const SIGNAL = {
  terminate: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate',
  ctrlC: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c',
} as const;

export const COMMAND_STATE_DONE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done';
export const COMMAND_STATE_RUNNING =
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running';

/** WSManFault / MSFT_WmiError codes we act on (decimal, as servers write them). */
export const FAULT_CODE = {
  /** No output within OperationTimeout: send Receive again. */
  operationTimeout: 2150858793,
  /** The ShellId is unknown on this node (restart, idle timeout, or a load balancer switched nodes). */
  shellNotFound: 2150858843,
  /** MaxShellsPerUser exceeded. */
  maxShellsPerUser: 2150859173,
  /** MaxConcurrentOperationsPerUser exceeded. */
  maxConcurrentOperationsPerUser: 2150859174,
  /** The request exceeded MaxEnvelopeSize. */
  envelopeTooLarge: 2150858817,
} as const;
