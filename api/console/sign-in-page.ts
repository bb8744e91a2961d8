/** The console's sign-in form: an API token pasted once, traded for a session cookie (sessions.ts). */
import { html, type Html } from './html.js';

export function signInPage(problem?: string): Html {
  return html`<div class="sign-in">
    <h1>Sign in</h1>
    ${problem ? html`<p class="notice bad" role="alert">${problem}</p>` : ''}
    <form method="post" action="/console/sign-in">
      <label
        >API token
        <input type="password" name="token" autocomplete="off" required autofocus spellcheck="false"
      /></label>
      <button type="submit" class="primary">Sign in</button>
    </form>
    <p class="muted">
      Use the token an admin made for you with <code>m365sync tokens create</code>. A viewer token sees; an
      operator token also syncs, cancels and approves.
    </p>
  </div>`;
}
