/**
 * Just enough of cmd.exe for a conformance test: `echo`, `exit /b N`, `ipconfig`, `hostname`,
 * `whoami`, and cmd's own message for anything else. Output uses CRLF like the real thing.
 */
export interface CmdResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function runCmdLine(line: string, context: { hostName: string; user: string }): CmdResult {
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  for (const part of line.split(/\s*&&?\s*/)) {
    const [name = '', ...rest] = part.trim().split(/\s+/);
    const arg = part.trim().slice(name.length).trim();
    switch (name.toLowerCase()) {
      case '':
        continue;
      case 'echo':
        stdout += `${arg}\r\n`;
        exitCode = 0;
        break;
      case 'exit': {
        const code = Number(rest.filter((r) => r.toLowerCase() !== '/b')[0] ?? 0);
        return { stdout, stderr, exitCode: Number.isInteger(code) ? code : 0 };
      }
      case 'ipconfig':
        stdout +=
          '\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet:\r\n\r\n' +
          '   Connection-specific DNS Suffix  . : \r\n   IPv4 Address. . . . . . . . . . . : 10.0.0.7\r\n' +
          '   Subnet Mask . . . . . . . . . . . : 255.255.255.0\r\n   Default Gateway . . . . . . . . . : 10.0.0.1\r\n';
        exitCode = 0;
        break;
      case 'hostname':
        stdout += `${context.hostName}\r\n`;
        exitCode = 0;
        break;
      case 'whoami':
        stdout += `${context.hostName.toLowerCase()}\\${context.user.toLowerCase()}\r\n`;
        exitCode = 0;
        break;
      default:
        stderr += `'${name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`;
        exitCode = 1;
    }
  }
  return { stdout, stderr, exitCode };
}
