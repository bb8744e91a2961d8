/**
 * The frame of every console page (header, navigation, who is signed in, sign-out) and the small
 * formatters the pages share: durations and ages in words, a run's status as a coloured word, error
 * codes with what to do about them.
 */
import type { Caller } from '../../domain/access.js';
import { html, type Html } from './html.js';

export interface PageFrame {
  title: string;
  /** Absent on the sign-in page. */
  caller?: Caller;
  csrf?: string;
  body: Html;
}

export function page(frame: PageFrame): string {
  const { caller } = frame;
  return `<!doctype html>${
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${frame.title} · m365sync console</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/live.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <span class="brand">m365sync console</span>
          ${caller ? html`<nav aria-label="Console"><a href="/console">Fleet</a><a href="/console/queue">Queue</a></nav>` : ''}
          ${
            caller
              ? html`<div class="who">
                  <span
                    >Signed in as <b>${caller.name}</b> (${caller.role}, scope
                    <code>${caller.scope}</code>)</span
                  >
                  <form method="post" action="/console/sign-out">
                    <input type="hidden" name="csrf" value="${frame.csrf}" /><button type="submit">
                      Sign out
                    </button>
                  </form>
                </div>`
              : ''
          }
        </header>
        <main id="main">${frame.body}</main>
      </body>
    </html>`.text
  }`;
}

/** `1 h 05 min`, `42 s`, `3 d 4 h`. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** An instant as UTC text people read (`2026-12-06 17:44 UTC`), in a <time> element. */
export function when(at: Date | string | undefined | null): Html {
  if (!at) return html`<span class="muted">never</span>`;
  const date = new Date(at);
  return html`<time datetime="${date.toISOString()}"
    >${date.toISOString().slice(0, 16).replace('T', ' ')} UTC</time
  >`;
}

export function statusWord(status: string): Html {
  return html`<span class="status status-${status}">${status.replace('_', ' ')}</span>`;
}

/** What an operator does about an error code, in plain words (the codes of domain/errors.ts a run records). */
const WHAT_TO_DO: Record<string, string> = {
  AUTHENTICATION:
    'Microsoft 365 refused the sign-in: check the client id, secret or certificate (Test connection says which).',
  PERMISSION:
    'The app lacks a permission: grant the Graph or Exchange role the message names, then sync again.',
  DELETE_THRESHOLD_EXCEEDED:
    'Delete protection held the sweep: look at the sample, then approve the deletes or find why objects vanished.',
  THROTTLED:
    'Microsoft throttled the tenant: the next run usually goes through; lower its concurrency if it repeats.',
  TRANSIENT:
    'A passing failure (network, service): the queue retries; if it repeats, look at the worker log.',
  WORKER_LOST: 'The worker stopped mid-run (crash, kill, lost MongoDB): another attempt takes over.',
  CANCELLED: 'An operator cancelled it.',
  QUEUE_UNAVAILABLE: 'Redis did not take the request: sync again once the queue answers.',
  DESTINATION_NOT_ALLOWED:
    'The tenant points somewhere the allow-list does not name: an admin adds it, or fixes the tenant.',
  CONFIGURATION: 'The tenant or the installation is set up wrongly: the message says what.',
  DECRYPTION_FAILED:
    'A stored secret does not decrypt with the configured keys: check M365SYNC_ENCRYPTION_KEYS.',
  POWERSHELL_ERROR: 'The Teams or Exchange script failed on the proxy: the message has its error.',
  WINRM_AUTH: 'The PowerShell proxy refused its credentials: check the proxy user and password.',
  WINRM_TIMEOUT: 'The PowerShell proxy did not answer in time: check the proxy, then sync again.',
  PROXY_UNAVAILABLE: 'No PowerShell proxy of the tenant answered: check that they run and are reachable.',
  GRAPH_REQUEST: 'Microsoft Graph refused a request: the message says which and why.',
  LEASE_LOST: 'Another worker took the tenant over (the lease lapsed): its run carries on.',
  SERVICE_UNAVAILABLE: 'MongoDB or Redis did not answer: the run is retried once they do.',
};

export function errorText(error: { code: string; message: string } | undefined): Html {
  if (!error) return html``;
  const advice = WHAT_TO_DO[error.code];
  return html`<div class="error">
    <code>${error.code}</code>
    ${error.message}${advice ? html`<br /><span class="muted">What to do: ${advice}</span>` : ''}
  </div>`;
}
