/**
 * The dashboard page: its HTML and its styles. The page loads its script and uPlot from this
 * server (`/assets/*`, see `_routes.ts`), so it works offline and under a CSP without inline
 * scripts.
 *
 * @module
 */

/** The dashboard page. */
export const DASHBOARD_HTML: string = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvq dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header>
  <h1>kvq</h1><span class="sub">job queue dashboard</span>
  <input type="search" id="search" placeholder="job id or idempotency key" aria-label="search by job id or idempotency key" autocomplete="off">
  <div class="right"><label><input type="checkbox" id="auto" checked> auto-refresh</label><span id="updated"></span></div>
</header>
<div id="banner"><span id="bannertext">This server needs a token.</span><input id="token" type="password" placeholder="bearer token" autocomplete="off"><button class="primary" id="savetoken">Use token</button></div>
<main>
  <div class="panel"><h2>Queues</h2><div id="queues"><div class="empty">Loading…</div></div></div>
  <div class="panel" id="queuepanel"><div class="empty">Select a queue.</div></div>
</main>
<aside id="detail"></aside>
<div id="toast"></div>
<script src="/assets/uplot.js"></script>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`;

/** The dashboard styles (`/assets/dashboard.css`). */
export const DASHBOARD_CSS: string =
  /* css */ `:root { --bg:#f6f7f9; --panel:#fff; --line:#e3e6ea; --text:#1d2330; --muted:#6b7483; --accent:#3056d3;
  --scheduled:#8a63d2; --ready:#2f80ed; --active:#f2994a; --completed:#27ae60; --failed:#e2b93b; --dead:#d64545; --canceled:#828b99; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#141a26; color:#fff; }
header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header .sub { color:#9aa3b2; font-size:12px; }
header .right { margin-left:auto; display:flex; gap:12px; align-items:center; font-size:12px; color:#c7cdd6; }
main { display:grid; grid-template-columns:260px 1fr; gap:16px; padding:16px 20px; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; }
.panel h2 { font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); margin:0; padding:10px 12px; border-bottom:1px solid var(--line); }
#queues a { display:block; padding:9px 12px; border-bottom:1px solid var(--line); color:inherit; text-decoration:none; cursor:pointer; }
#queues a:hover { background:#f0f3f8; }
#queues a.sel { background:#e8eefc; border-left:3px solid var(--accent); padding-left:9px; }
#queues .name { font-weight:600; display:flex; justify-content:space-between; }
.mini { display:flex; gap:4px; flex-wrap:wrap; margin-top:4px; }
.pill { display:inline-block; padding:0 7px; border-radius:10px; font-size:11px; color:#fff; background:var(--muted); white-space:nowrap; }
.st-scheduled{background:var(--scheduled)} .st-ready{background:var(--ready)} .st-active{background:var(--active)}
.st-completed{background:var(--completed)} .st-failed{background:var(--failed);color:#222} .st-dead{background:var(--dead)} .st-canceled{background:var(--canceled)}
.paused { background:#444; }
.toolbar { display:flex; gap:8px; align-items:center; padding:10px 12px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
.toolbar h3 { margin:0 8px 0 0; font-size:16px; }
.tabs { display:flex; gap:2px; padding:0 12px; border-bottom:1px solid var(--line); overflow-x:auto; }
.tab { padding:8px 12px; cursor:pointer; border-bottom:2px solid transparent; color:var(--muted); white-space:nowrap; }
.tab.sel { color:var(--text); border-bottom-color:var(--accent); font-weight:600; }
.tab .n { margin-left:5px; font-size:11px; color:var(--muted); }
button { font:inherit; font-size:13px; padding:5px 11px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button:hover { background:#f0f3f8; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { color:var(--dead); border-color:#efc4c4; }
button:disabled { opacity:.45; cursor:default; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:7px 12px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; }
tbody tr { cursor:pointer; } tbody tr:hover { background:#f6f8fc; }
td.mono, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; }
td.err { color:var(--dead); max-width:320px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.empty { padding:28px; text-align:center; color:var(--muted); }
.pager { display:flex; gap:8px; justify-content:flex-end; align-items:center; padding:10px 12px; color:var(--muted); font-size:12px; }
#detail { position:fixed; top:0; right:0; bottom:0; width:min(620px,100%); background:#fff; border-left:1px solid var(--line); box-shadow:-8px 0 24px rgba(0,0,0,.08); overflow:auto; display:none; }
#detail.open { display:block; }
#detail header { background:#fff; color:var(--text); border-bottom:1px solid var(--line); }
#detail section { padding:12px 20px; border-bottom:1px solid var(--line); }
#detail h4 { margin:0 0 6px; font-size:12px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); }
pre { margin:0; background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:8px 10px; overflow:auto; max-height:260px; font-size:12px; white-space:pre-wrap; word-break:break-word; }
dl { display:grid; grid-template-columns:140px 1fr; gap:3px 12px; margin:0; }
dt { color:var(--muted); } dd { margin:0; }
#banner { display:none; padding:10px 20px; background:#fff4d6; border-bottom:1px solid #f0dc9b; gap:8px; align-items:center; }
#banner.show { display:flex; }
#banner input { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px; width:280px; }
#toast { position:fixed; left:50%; bottom:18px; transform:translateX(-50%); background:#141a26; color:#fff; padding:8px 14px; border-radius:6px; display:none; max-width:80%; }
#addform { display:none; padding:10px 12px; border-bottom:1px solid var(--line); gap:8px; align-items:flex-start; flex-wrap:wrap; }
#addform.open { display:flex; }
#addform textarea { font-family:ui-monospace,monospace; font-size:12px; width:360px; height:60px; }
#addform input { width:90px; font:inherit; padding:4px 6px; }
header input[type=search] { font:inherit; font-size:13px; padding:4px 9px; border-radius:6px; border:1px solid #39445a; background:#1f2736; color:#fff; width:300px; }
#charts { display:grid; grid-template-columns:1fr 1fr; gap:12px; padding:10px 12px; border-bottom:1px solid var(--line); }
#charts .chart { min-width:0; }
#charts h4 { margin:0 0 4px; font-size:12px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); font-weight:600; }
#cleanform { display:none; padding:10px 12px; border-bottom:1px solid var(--line); gap:8px; align-items:center; flex-wrap:wrap; }
#cleanform.open { display:flex; }
#cleanform input, #cleanform select { font:inherit; padding:4px 6px; }
#cleanform input { width:110px; }
.results h3 { margin:0; font-size:16px; }
.uplot { width:100%; }
.u-legend { font-size:12px; }
`;
