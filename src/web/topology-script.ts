// The topology page's script. It is written here as a function so the compiler
// checks it, and inlined into the page as its source text (topology-page.ts):
// it must stay self-contained (no imports, nothing from outside its body).
// It fetches ./topology, draws namespaces as boxes grouped by kind (HTML), veth
// pairs as curves between them (one SVG over the page), and redraws on a timer.

export function topologyPageMain(): void {
  type End = { netns: string; interface: string; ifindex?: number };
  type Counters = { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number; rxErrors: number; txErrors: number; rxDropped: number; txDropped: number };
  type Iface = {
    index: number; name: string; kind?: string; operstate?: string; mtu?: number; mac?: string; master?: { index: number; name?: string };
    ports?: string[]; peer?: End; network?: string; counters?: Counters;
    rates?: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number };
    vxlan?: { vni?: number; port?: number; local?: string; remotes: Array<{ ip: string; node?: string; macs: number }> };
  };
  type Backend = { address: string; weight?: number; activeConns?: number; task?: string; health: string };
  type Ipvs = { key: string; service?: string; vip?: string; scheduler?: string; backends: Backend[]; missing: string[] };
  type Ns = { name: string; kind: string; network?: string; service?: string; task?: string; container?: string; error?: string; interfaces: Iface[]; ipvs?: Ipvs[] };
  type Topo = { takenAt: number; rateIntervalSeconds?: number; node: { hostname?: string; address?: string; dockerUp: boolean }; namespaces: Ns[]; edges: Array<{ a: End; b: End }> };

  const GROUPS: Array<[string, string]> = [
    ['host', 'Host'], ['overlay', 'Overlay networks (1-…)'], ['lb', 'Load balancers (lb_…)'], ['ingress_sbox', 'Ingress routing mesh'],
    ['sandbox', 'Containers (sandboxes)'], ['other', 'Other namespaces'],
  ];
  const $ = (id: string) => document.getElementById(id)!;
  const board = $('board');
  const svg = $('edges') as unknown as SVGSVGElement;
  const search = $('search') as HTMLInputElement;
  const networkSel = $('network') as HTMLSelectElement;
  const auto = $('auto') as HTMLInputElement;
  const collapsedGroups = new Set<string>();
  const nsOpen = new Map<string, boolean>();
  let topo: Topo | undefined;
  let timer: number | undefined;

  function el(tag: string, cls?: string, text?: string): HTMLElement {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function human(n: number, unit: string): string {
    const units = ['', 'k', 'M', 'G', 'T'];
    let v = n;
    let u = 0;
    while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
    return (v >= 100 || u === 0 ? Math.round(v).toString() : v.toFixed(1)) + units[u] + unit;
  }
  function owner(ns: Ns): string {
    if (ns.network) return ns.network;
    return [ns.task || ns.service, ns.container && ns.container !== ns.task ? ns.container : ''].filter(Boolean).join(' · ');
  }
  function networksOf(ns: Ns): string[] {
    const out = ns.network ? [ns.network] : [];
    for (const i of ns.interfaces) if (i.network && !out.includes(i.network)) out.push(i.network);
    return out;
  }

  /** Which namespaces pass the search box and the network filter (a network keeps its namespaces' veth neighbours too). */
  function visibleSet(t: Topo): Set<string> {
    const q = search.value.trim().toLowerCase();
    const net = networkSel.value;
    const byNet = new Set(t.namespaces.filter((ns) => !net || networksOf(ns).includes(net)).map((ns) => ns.name));
    if (net) for (const e of t.edges) if (byNet.has(e.a.netns) || byNet.has(e.b.netns)) { byNet.add(e.a.netns); byNet.add(e.b.netns); }
    const out = new Set<string>();
    for (const ns of t.namespaces) {
      if (!byNet.has(ns.name)) continue;
      const text = [ns.name, ns.kind, ns.network, ns.service, ns.task, ns.container, ...ns.interfaces.map((i) => i.name + ' ' + (i.mac ?? '')),
        ...ns.interfaces.flatMap((i) => i.vxlan ? i.vxlan.remotes.map((r) => r.ip + ' ' + (r.node ?? '')) : [])].join(' ').toLowerCase();
      if (!q || text.includes(q)) out.add(ns.name);
    }
    return out;
  }

  function ifaceRow(ns: Ns, i: Iface, depth: number): HTMLElement {
    const row = el('div', 'if k-' + (i.kind ?? 'none') + (i.operstate === 'down' ? ' down' : ''));
    row.dataset.ns = ns.name;
    row.dataset.if = i.name;
    row.style.paddingLeft = 4 + depth * 12 + 'px';
    row.append(el('span', 'ifname', i.name), el('span', 'dim', '#' + i.index + (i.kind ? ' ' + i.kind : '')));
    if (i.network) row.append(el('span', 'net', i.network));
    if (i.peer) row.append(el('span', 'dim', '↔ ' + i.peer.netns + '/' + i.peer.interface));
    if (i.rates) row.append(el('span', 'rate', '↓' + human(i.rates.rxBytes, 'B/s') + ' ↑' + human(i.rates.txBytes, 'B/s')));
    else if (i.counters) row.append(el('span', 'dim', 'rx ' + human(i.counters.rxBytes, 'B') + ' tx ' + human(i.counters.txBytes, 'B')));
    const c = i.counters;
    if (c && c.rxDropped + c.txDropped + c.rxErrors + c.txErrors > 0) {
      row.append(el('span', 'bad', 'drop ' + (c.rxDropped + c.txDropped) + ' err ' + (c.rxErrors + c.txErrors)));
    }
    row.title = [i.name + ' (ifindex ' + i.index + ')', i.kind && 'kind ' + i.kind, i.operstate && 'state ' + i.operstate, i.mtu && 'mtu ' + i.mtu, i.mac,
      c && 'rx ' + c.rxPackets + ' pkts / ' + c.rxBytes + ' B, tx ' + c.txPackets + ' pkts / ' + c.txBytes + ' B'].filter(Boolean).join('\n');
    return row;
  }

  function vxlanBlock(ns: Ns, i: Iface, depth: number): HTMLElement[] {
    const out = [ifaceRow(ns, i, depth)];
    const x = i.vxlan!;
    out.push(el('div', 'vx', 'VNI ' + (x.vni ?? '?') + ' · port ' + (x.port ?? '?') + (x.local ? ' · local ' + x.local : '')));
    out[1]!.style.paddingLeft = 16 + depth * 12 + 'px';
    for (const r of x.remotes) {
      const v = el('div', 'vtep' + (r.node ? '' : ' unnamed'), '→ ' + (r.node ? r.node + ' ' : '') + r.ip + ' (' + r.macs + ' MAC' + (r.macs === 1 ? '' : 's') + ')');
      v.style.paddingLeft = 16 + depth * 12 + 'px';
      v.dataset.vtep = r.ip;
      out.push(v);
    }
    return out;
  }

  function nsBox(ns: Ns, open: boolean): HTMLElement {
    const box = el('div', 'ns kind-' + ns.kind + (ns.error ? ' err' : ''));
    box.dataset.ns = ns.name;
    const head = el('div', 'nshead');
    head.dataset.nsHead = ns.name;
    head.append(el('span', 'tw', open ? '▾' : '▸'), el('b', '', ns.name), el('span', 'own', owner(ns)),
      el('span', 'dim', ns.interfaces.length + ' if' + (ns.ipvs && ns.ipvs.length ? ' · ' + ns.ipvs.length + ' ipvs' : '')));
    head.onclick = () => { nsOpen.set(ns.name, !open); render(); };
    box.append(head);
    if (ns.error) box.append(el('div', 'bad', ns.error));
    if (!open) return box;
    const body = el('div', 'nsbody');
    const ports = new Set<string>();
    for (const b of ns.interfaces.filter((i) => i.kind === 'bridge')) {
      const br = el('div', 'bridge');
      br.append(ifaceRow(ns, b, 0));
      for (const p of ns.interfaces.filter((i) => i.master?.index === b.index)) {
        ports.add(p.name);
        for (const r of p.kind === 'vxlan' ? vxlanBlock(ns, p, 1) : [ifaceRow(ns, p, 1)]) br.append(r);
      }
      body.append(br);
    }
    for (const i of ns.interfaces) {
      if (i.kind === 'bridge' || ports.has(i.name)) continue;
      for (const r of i.kind === 'vxlan' ? vxlanBlock(ns, i, 0) : [ifaceRow(ns, i, 0)]) body.append(r);
    }
    for (const s of ns.ipvs ?? []) {
      const svc = el('div', 'ipvs');
      svc.append(el('div', 'svc', (s.service ? s.service + ' · ' : '') + s.key + (s.vip && !s.key.includes(s.vip) ? ' · VIP ' + s.vip : '') + (s.scheduler ? ' · ' + s.scheduler : '')));
      for (const b of s.backends) {
        const be = el('div', 'be h-' + b.health, b.address + (b.task ? ' ' + b.task : '') + ' w=' + (b.weight ?? '?') + ' conns=' + (b.activeConns ?? 0));
        be.dataset.health = b.health;
        svc.append(be);
      }
      for (const m of s.missing) svc.append(el('div', 'be h-missing', 'missing: ' + m));
      body.append(svc);
    }
    box.append(body);
    return box;
  }

  function render(): void {
    const t = topo;
    if (!t) return;
    const visible = visibleSet(t);
    const q = search.value.trim() !== '';
    const big = t.namespaces.length > 60;
    board.replaceChildren();
    for (const [kind, title] of GROUPS) {
      const members = t.namespaces.filter((ns) => ns.kind === kind);
      if (members.length === 0) continue;
      const shown = members.filter((ns) => visible.has(ns.name));
      const group = el('section', 'group');
      group.dataset.group = kind;
      const closed = collapsedGroups.has(kind);
      const head = el('h2', '', (closed ? '▸ ' : '▾ ') + title + ' ');
      head.dataset.groupHead = kind;
      head.append(el('span', 'dim', shown.length === members.length ? String(members.length) : shown.length + ' of ' + members.length));
      head.onclick = () => { if (closed) collapsedGroups.delete(kind); else collapsedGroups.add(kind); render(); };
      group.append(head);
      if (!closed) {
        const list = el('div', 'boxes');
        // a large node starts with namespaces folded to one line each; a search unfolds its hits
        for (const ns of shown) list.append(nsBox(ns, nsOpen.get(ns.name) ?? (q || !big || kind !== 'sandbox')));
        group.append(list);
      }
      board.append(group);
    }
    const when = new Date(t.takenAt).toLocaleTimeString();
    $('status').textContent = (t.node.hostname ?? 'this node') + (t.node.address ? ' (' + t.node.address + ')' : '') + ' · ' + t.namespaces.length +
      ' namespaces · ' + t.edges.length + ' veth pairs · snapshot ' + when + (t.rateIntervalSeconds ? ' · rates over ' + t.rateIntervalSeconds.toFixed(1) + ' s' : '') +
      (t.node.dockerUp ? '' : ' · no Docker names');
    drawEdges(t, visible);
  }

  /** The element an end of an edge attaches to: its interface row, else its namespace's header, else its group's. */
  function anchor(end: End, kind: string | undefined): Element | null {
    const esc = (s: string) => s.replace(/["\\]/g, '\\$&');
    return document.querySelector('.if[data-ns="' + esc(end.netns) + '"][data-if="' + esc(end.interface) + '"]')
      ?? document.querySelector('[data-ns-head="' + esc(end.netns) + '"]')
      ?? (kind ? document.querySelector('[data-group-head="' + kind + '"]') : null);
  }

  function drawEdges(t: Topo, visible: Set<string>): void {
    const kinds = new Map(t.namespaces.map((n) => [n.name, n.kind]));
    const root = board.getBoundingClientRect();
    svg.setAttribute('width', String(board.scrollWidth));
    svg.setAttribute('height', String(board.scrollHeight));
    svg.replaceChildren();
    for (const e of t.edges) {
      if (!visible.has(e.a.netns) || !visible.has(e.b.netns)) continue;
      const a = anchor(e.a, kinds.get(e.a.netns));
      const b = anchor(e.b, kinds.get(e.b.netns));
      if (!a || !b) continue;
      const ra = a.getBoundingClientRect();
      const rb = b.getBoundingClientRect();
      const left = ra.left <= rb.left;
      const [p, q] = left ? [ra, rb] : [rb, ra];
      const x1 = p.right - root.left, y1 = p.top + p.height / 2 - root.top;
      const x2 = q.left - root.left, y2 = q.top + q.height / 2 - root.top;
      const dx = Math.max(40, Math.abs(x2 - x1) / 2);
      const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
      path.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + (x1 + dx) + ',' + y1 + ' ' + (x2 - dx) + ',' + y2 + ' ' + x2 + ',' + y2);
      path.setAttribute('class', 'veth');
      path.dataset.a = e.a.netns + '/' + e.a.interface;
      path.dataset.b = e.b.netns + '/' + e.b.interface;
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = 'veth ' + path.dataset.a + ' ↔ ' + path.dataset.b;
      path.append(title);
      svg.append(path);
    }
  }

  function fillNetworks(t: Topo): void {
    const nets = [...new Set(t.namespaces.flatMap(networksOf))].sort();
    const current = networkSel.value;
    networkSel.replaceChildren(new Option('all networks', ''), ...nets.map((n) => new Option(n, n)));
    networkSel.value = nets.includes(current) ? current : '';
  }

  async function load(): Promise<void> {
    try {
      const res = await fetch('topology', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error('GET topology: ' + res.status);
      topo = (await res.json()) as Topo;
      fillNetworks(topo);
      render();
      document.body.dataset.loaded = String(topo.takenAt);
    } catch (err) {
      $('status').textContent = String(err);
    }
    if (auto.checked) timer = window.setTimeout(() => void load(), 5000);
  }

  search.oninput = () => render();
  networkSel.onchange = () => render();
  auto.onchange = () => { window.clearTimeout(timer); if (auto.checked) void load(); };
  $('collapse').onclick = () => { for (const [k] of GROUPS) collapsedGroups.add(k); render(); };
  $('expand').onclick = () => { collapsedGroups.clear(); if (topo) for (const ns of topo.namespaces) nsOpen.set(ns.name, true); render(); };
  window.onresize = () => render();
  void load();
}
