// The one HTML page: the map beside the trace form, and every view as a table under it. The
// script (app.js, bundled from src/ui/web/) fills both.
const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2733; }
header { padding: 8px 16px; background: #1d2733; color: #fff; display: flex; gap: 16px; align-items: center; }
header form { display: flex; gap: 6px; align-items: center; }
#status { margin-left: auto; font-size: 12px; }
#map { height: 62vh; border-bottom: 1px solid #ccd; }
#tip { position: fixed; display: none; max-width: 420px; background: #fff8e1; border: 1px solid #c9a227;
  padding: 6px 8px; white-space: pre-wrap; font-size: 12px; pointer-events: none; z-index: 10; }
main { padding: 8px 16px; display: grid; align-items: start; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 12px; }
main > section { content-visibility: auto; contain-intrinsic-size: auto 400px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 2px 6px; text-align: left; }
tr.warn td { background: #fff4d6; } tr.bad td { background: #fde2e1; }
`;

export function page(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podnet map</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header><strong>podnet</strong>
<form id="trace-form">
  <label>trace from <select id="trace-pod" name="pod"></select></label>
  <label>to <input id="trace-dest" name="destination" placeholder="my-svc:80" size="18"></label>
  <button id="trace-run" type="submit">trace</button>
  <button id="trace-clear" type="button">clear</button>
</form>
<label>flows of <select id="flow-namespace"><option value="">every namespace</option></select></label>
<span id="status">connecting…</span></header>
<div id="map"></div><div id="tip"></div>
<main id="tables"></main>
<script type="module" src="app.js"></script>
</body></html>
`;
}
