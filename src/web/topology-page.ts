// GET /topology.html: one self-contained page (its CSS and script inline, no
// external resource of any kind) drawing GET /topology.
import { topologyPageMain } from './topology-script.js';

const CSS = `
:root { font: 13px/1.35 system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
body { margin: 0; }
header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #d8dbe2; padding: 8px 12px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 15px; margin: 0 8px 0 0; }
header input[type=search] { width: 260px; padding: 3px 6px; }
#status { color: #5b6275; margin-left: auto; }
#wrap { position: relative; padding: 10px; }
#edges { position: absolute; left: 10px; top: 10px; pointer-events: none; overflow: visible; }
#edges path.veth { fill: none; stroke: #7b5cd6; stroke-width: 1.6; opacity: .75; }
#board { display: flex; gap: 28px; align-items: flex-start; }
.group { min-width: 270px; max-width: 420px; }
.group h2 { font-size: 13px; margin: 0 0 6px; cursor: pointer; user-select: none; }
.boxes { display: flex; flex-direction: column; gap: 6px; }
.ns { background: #fff; border: 1px solid #c9cdd8; border-radius: 5px; overflow: hidden; }
.ns.kind-host { border-color: #51607a; } .ns.kind-overlay { border-color: #2f7fbf; } .ns.kind-lb, .ns.kind-ingress_sbox { border-color: #c07a12; }
.ns.err { border-color: #c0392b; }
.nshead { display: flex; gap: 6px; align-items: baseline; padding: 3px 6px; background: #eef0f4; cursor: pointer; }
.nshead .own { color: #2f7fbf; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
.nsbody { padding: 2px 0 4px; }
.bridge { border-left: 3px solid #2f7fbf; margin: 2px 4px; }
.if { display: flex; gap: 6px; align-items: baseline; white-space: nowrap; padding: 1px 4px; }
.if.down .ifname { color: #999; text-decoration: line-through; }
.ifname { font-weight: 600; }
.k-bridge .ifname { color: #2f7fbf; } .k-vxlan .ifname { color: #8e44ad; } .k-veth .ifname { color: #1d2330; }
.net { color: #2f7fbf; } .dim { color: #7a8196; } .rate { color: #1e7d4f; } .bad { color: #c0392b; padding: 0 6px; }
.vx, .vtep { color: #8e44ad; white-space: nowrap; } .vtep.unnamed { color: #a98bbd; }
.ipvs { margin: 3px 4px; border-left: 3px solid #c07a12; padding-left: 4px; }
.svc { font-weight: 600; color: #9a6210; }
.be { padding-left: 10px; white-space: nowrap; }
.be::before { content: "●"; margin-right: 4px; }
.h-up::before { color: #1e9e5a; } .h-down::before { color: #d23c2c; } .h-unknown::before { color: #9aa0ad; } .h-missing { color: #d23c2c; } .h-missing::before { color: #d23c2c; content: "○"; }
`;

export const topologyPage = (version: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>swarmnet-exporter: topology</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<header>
<h1>Overlay data plane</h1>
<input id="search" type="search" placeholder="search namespace, task, interface, MAC, VTEP…" aria-label="search">
<select id="network" aria-label="network"><option value="">all networks</option></select>
<button id="collapse" type="button">collapse all</button><button id="expand" type="button">expand all</button>
<label><input id="auto" type="checkbox" checked> refresh every 5 s</label>
<span id="status">loading…</span>
</header>
<div id="wrap"><svg id="edges" xmlns="http://www.w3.org/2000/svg"></svg><div id="board"></div></div>
<footer style="padding:8px 12px;color:#7a8196">swarmnet-exporter ${version} · <a href="topology">topology JSON</a> · <a href="metrics">metrics</a></footer>
<script>(${topologyPageMain.toString()})();</script>
</body></html>
`;
