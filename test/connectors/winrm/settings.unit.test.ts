import { describe, expect, it } from 'vitest';
import { winRmSettings } from '../../../connectors/winrm/settings.js';
import { parseSettings } from '../../../domain/settings.js';
import { ValidationError } from '../../../domain/errors.js';

describe('WinRM settings from the process settings', () => {
  it('defaults to HTTPS with certificate verification and a shell cap below MaxShellsPerUser', () => {
    expect(winRmSettings(parseSettings({}))).toEqual({
      scheme: 'https',
      rejectUnauthorized: true,
      maxShellsPerProxy: 20,
      operationTimeoutMs: 20_000,
      maxEnvelopeSize: 153_600,
      idleTimeoutMs: 900_000,
      coolDownMs: 30_000,
      probeIntervalMs: 10_000,
    });
  });

  it('reads overrides and names the variable that is wrong', () => {
    expect(
      winRmSettings(
        parseSettings({
          M365SYNC_WINRM_SCHEME: 'http',
          M365SYNC_WINRM_AFFINITY_KEY: 'pod-7',
          M365SYNC_WINRM_REJECT_UNAUTHORIZED: 'false',
        }),
      ),
    ).toMatchObject({ scheme: 'http', affinityKey: 'pod-7', rejectUnauthorized: false });
    expect(() => parseSettings({ M365SYNC_WINRM_MAX_SHELLS_PER_PROXY: '30' })).toThrow(ValidationError);
    expect(() => parseSettings({ M365SYNC_WINRM_OPERATION_TIMEOUT_MS: '90000' })).toThrow(
      /M365SYNC_WINRM_OPERATION_TIMEOUT_MS/,
    );
    expect(() => winRmSettings(parseSettings({ M365SYNC_WINRM_CA_FILE: '/nonexistent/ca.pem' }))).toThrow(
      /cannot read/,
    );
  });
});
