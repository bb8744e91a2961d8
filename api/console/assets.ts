/**
 * The console's two static files, served from /console/assets (no other site is ever asked for
 * anything: the Content-Security-Policy allows only this origin). Kept as text in the code, not as
 * files beside it, so the built `dist/` and the `tsx` runs serve the same bytes with nothing to copy.
 *
 * `live.js` is the console's only script, progressive enhancement: on a run page of an active run it
 * asks `/console/runs/:id/progress` every two seconds and writes the status and each kind's counts in
 * place (text only, never markup), and reloads the page once the run has ended. Without it the page
 * still works: it says to reload, and its "Refresh" link does.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
  --accent: #0a58ca; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --panel: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1;
  --line: #30363d; --accent: #58a6ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --panel: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand { font-weight: 700; }
header nav { display: flex; gap: 1rem; flex-wrap: wrap; }
header .who { margin-left: auto; color: var(--muted); display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; }
main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; background: var(--bg); padding: .25rem .5rem; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.counts li a, .counts li span { display: inline-block; padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 999px; text-decoration: none; color: var(--fg); }
.counts b { font-variant-numeric: tabular-nums; }
.status { font-weight: 600; white-space: nowrap; }
.status-succeeded { color: var(--ok); } .status-partial, .status-needs_review, .status-stale { color: var(--warn); }
.status-failed, .status-cancelled { color: var(--bad); } .status-running, .status-queued { color: var(--accent); }
.muted { color: var(--muted); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; gap: .2rem; font-size: .9rem; }
label.inline { flex-direction: row; align-items: center; gap: .4rem; }
input, select, button { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: var(--bad); color: #fff; border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: .5rem 0 1rem; padding: .75rem; border: 1px solid var(--line); border-radius: 6px; }
.actions form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.notice { padding: .6rem .8rem; border-left: 4px solid var(--accent); background: var(--panel); margin: 0 0 1rem; }
.notice.bad { border-color: var(--bad); } .notice.warn { border-color: var(--warn); }
.pager { display: flex; gap: 1rem; margin: .75rem 0; align-items: center; flex-wrap: wrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
.sign-in { max-width: 28rem; margin: 3rem auto; }
.sign-in form { display: flex; flex-direction: column; gap: .75rem; }
@media (max-width: 40rem) { main { padding: .6rem; } dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: .4rem; } }
`;

export const LIVE_JS = `'use strict';
(function () {
  var root = document.querySelector('[data-live]');
  if (!root) return;
  var url = root.getAttribute('data-live');
  var note = document.getElementById('live-note');
  if (note) note.textContent = 'This page follows the run as it goes.';
  function set(selector, text) {
    var el = root.querySelector(selector);
    if (el && el.textContent !== text) el.textContent = text;
  }
  function tick() {
    fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (p) {
        if (p.ended) { window.location.reload(); return; }
        set('[data-field="status"]', p.status);
        set('[data-field="kinds-done"]', String(p.kindsDone));
        set('[data-field="objects"]', String(p.objects));
        set('[data-field="elapsed"]', p.elapsed);
        setTimeout(tick, 2000);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 1000);
})();
`;
