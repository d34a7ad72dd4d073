"""Maps of a plan: map.png (before and after) and map.html (interactive, offline).

Both project locations to equal-area km (`territories.geo.project`), so a degree of
longitude is not stretched, and draw outlying groups (Alaska, Hawaii, islands) in
insets instead of squashing the rest. Territories are coloured so that neighbouring
ones differ: reps are neighbours when two of their accounts are Delaunay neighbours,
and a greedy colouring (most neighbours first) picks from a 12-colour palette. Each
territory gets its convex hull as an outline, each rep home a marker.
map.html embeds its data and a small script (no CDN, no network): hover shows the
account's name, potential and rep; buttons switch between before and after.
"""

from __future__ import annotations

import html
import io
import json

import numpy as np
import pandas as pd

from territories.geo import convex_hull, delaunay_edges, project

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939")
GREY = "#bbbbbb"


def rep_colours(assignments: pd.DataFrame, edges: np.ndarray) -> dict[str, str]:
    """A palette colour per rep, different from every neighbouring territory's."""
    reps = assignments["rep_id"].to_numpy(dtype=object)
    edges = edges if len(edges) else np.empty((0, 2), dtype=np.int64)
    a, b = reps[edges[:, 0]], reps[edges[:, 1]]
    neighbours: dict = {r: set() for r in set(reps)}
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        if x != y:
            neighbours[x].add(y)
            neighbours[y].add(x)
    colour: dict[str, int] = {}
    used = np.zeros(len(PALETTE))
    for r in sorted(neighbours, key=lambda r: (-len(neighbours[r]), str(r))):
        taken = {colour[n] for n in neighbours[r] if n in colour}
        free = [c for c in range(len(PALETTE)) if c not in taken] or list(range(len(PALETTE)))
        pick = min(free, key=lambda c: used[c])  # spread colours evenly among the free ones
        colour[r] = pick
        used[pick] += 1
    return {r: PALETTE[c] for r, c in colour.items()}


def _layout(x: np.ndarray, y: np.ndarray, max_insets: int = 4):
    """(main mask, [inset masks]): groups of points far from the main mass go to insets."""
    lo_x, hi_x = np.percentile(x, [5, 95])
    lo_y, hi_y = np.percentile(y, [5, 95])
    span = max(hi_x - lo_x, hi_y - lo_y, 1.0)
    main = ((x >= lo_x - 0.25 * span) & (x <= hi_x + 0.25 * span)
            & (y >= lo_y - 0.25 * span) & (y <= hi_y + 0.25 * span))
    outliers = np.flatnonzero(~main)
    if not len(outliers) or len(outliers) > 0.1 * len(x):
        return np.ones(len(x), dtype=bool), []
    cell = np.round(x[outliers] / span).astype(int) * 100_003 + np.round(
        y[outliers] / span).astype(int)
    groups = [outliers[cell == c] for c in pd.Series(cell).value_counts().index[:max_insets]]
    rest = np.setdiff1d(outliers, np.concatenate(groups)) if groups else outliers
    main[rest] = True  # beyond the insets: keep them in the main panel
    masks = []
    for g in groups:
        mask = np.zeros(len(x), dtype=bool)
        mask[g] = True
        masks.append(mask)
    return main, masks


def _prepared(result):
    a = result.assignments
    if a[["lat", "lon"]].isna().any().any():
        return None
    x, y = project(a["lat"].to_numpy(), a["lon"].to_numpy())
    t = result.territories
    hx, hy = project(t["home_lat"].to_numpy(), t["home_lon"].to_numpy())
    edges = delaunay_edges(a["lat"].to_numpy(), a["lon"].to_numpy())
    colours = rep_colours(a, edges)
    return a, x, y, t, hx, hy, colours


def map_png(result) -> bytes | None:
    """Before and after side by side, with hulls, rep homes, insets and a legend."""
    prepared = _prepared(result)
    if prepared is None:
        return None
    a, x, y, t, hx, hy, colours = prepared
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(a)
    pot = a["potential"].to_numpy(dtype=float)
    size = (1.5 if n > 5000 else 4) + (10 if n > 5000 else 40) * np.sqrt(
        pot / pot.max() if pot.max() > 0 else np.zeros(n))
    main, insets = _layout(x, y)
    fig = Figure(figsize=(16, 5.4), dpi=110)
    owners = {"Before": a["previous_rep_id"].to_numpy(dtype=object),
              "After": a["rep_id"].to_numpy(dtype=object)}
    rep_ids = t["rep_id"].to_numpy(dtype=object)
    for k, (title, owner) in enumerate(owners.items()):
        ax = fig.add_subplot(1, 2, k + 1)
        panels = [(ax, main)]
        for j, mask in enumerate(insets):  # a strip on the left, kept clear of the main area
            sub = ax.inset_axes([0.005, 0.76 - 0.25 * j, 0.17, 0.23])
            panels.append((sub, mask))
        for axis, mask in panels:
            _draw(axis, x, y, size, owner, mask, colours, hx, hy, rep_ids, n)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_aspect("equal")
        if insets:
            lo, hi = ax.get_xlim()
            ax.set_xlim(lo - 0.22 * (hi - lo), hi)
        moved = f" ({result.moved_share:.1%} of potential moved)" if title == "After" else ""
        ax.set_title(title + moved)
    handles = [Line2D([], [], marker="*", color="black", markerfacecolor="white", linestyle="",
                      markersize=11, label="rep home"),
               Patch(facecolor=PALETTE[0], alpha=0.25, edgecolor=PALETTE[0],
                     label="territory outline (convex hull)"),
               Line2D([], [], marker="o", color=PALETTE[1], linestyle="", markersize=5,
                      label="account, sized by potential")]
    if len(colours) <= 24:
        handles += [Patch(color=c, label=str(r)) for r, c in sorted(colours.items())]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(-0.05, -0.02),
              ncol=min(len(handles), 8), fontsize=8, frameon=False)
    fig.suptitle(f"Alignment ({result.objective_name}): {len(colours)} territories, "
             f"{n:,} accounts; neighbouring territories have different colours; equal-area "
             "projection, outlying areas inset on the left", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _core(sel: np.ndarray, x, y) -> np.ndarray:
    """A territory's accounts without its far outliers, for its outline.

    Beyond 3x the median distance from the median point; one remote account should not
    draw an outline across the map.
    """
    if len(sel) < 4:
        return sel
    cx, cy = np.median(x[sel]), np.median(y[sel])
    d = np.hypot(x[sel] - cx, y[sel] - cy)
    return sel[d <= 3 * max(np.median(d), 1e-9)]


def _draw(ax, x, y, size, owner, mask, colours, hx, hy, rep_ids, n) -> None:
    idx = np.flatnonzero(mask)
    own = owner[idx]
    cols = np.array([colours.get(r, GREY) if isinstance(r, str) else GREY for r in own])
    for r in pd.unique(own):
        if not isinstance(r, str):
            continue
        sel = _core(idx[own == r], x, y)
        if len(sel) >= 3:
            hull = sel[convex_hull(x[sel], y[sel])]
            ax.fill(x[hull], y[hull], color=colours.get(r, GREY), alpha=0.18, linewidth=0.6,
                    edgecolor=colours.get(r, GREY))
    ax.scatter(x[idx], y[idx], s=size[idx], c=cols, alpha=0.8, linewidths=0)
    lo_x, hi_x, lo_y, hi_y = x[idx].min(), x[idx].max(), y[idx].min(), y[idx].max()
    inside = (hx >= lo_x) & (hx <= hi_x) & (hy >= lo_y) & (hy <= hi_y) & np.isfinite(hx)
    ax.scatter(hx[inside], hy[inside], marker="*", s=30 if len(hx) > 200 else 110,
               c=[colours.get(r, GREY) for r in rep_ids[inside]], edgecolors="black",
               linewidths=0.6, zorder=5)
    if inside.sum() <= 60:
        for r, px, py in zip(rep_ids[inside], hx[inside], hy[inside], strict=True):
            ax.annotate(str(r), (px, py), fontsize=6, xytext=(3, 3), textcoords="offset points")
    pad = 0.03 * max(hi_x - lo_x, hi_y - lo_y, 1.0)
    ax.set_xlim(lo_x - pad, hi_x + pad)
    ax.set_ylim(lo_y - pad, hi_y + pad)


def map_html(result) -> bytes | None:
    """A self-contained interactive map (SVG drawn by embedded JavaScript, no network)."""
    prepared = _prepared(result)
    if prepared is None:
        return None
    a, x, y, t, hx, hy, colours = prepared
    main, insets = _layout(x, y)
    # insets are moved next to the main area, as on a printed US map
    px, py = x.copy(), -y.copy()
    lo_x, hi_x = px[main].min(), px[main].max()
    hi_y = py[main].max()
    width = max(hi_x - lo_x, 1.0)
    offset_x = lo_x
    for mask in insets:
        w = px[mask].max() - px[mask].min()
        px[mask] += offset_x - px[mask].min()
        py[mask] += hi_y + 0.05 * width - py[mask].min()
        offset_x += w + 0.05 * width
    rep_ids = t["rep_id"].tolist()
    rep_pos = {r: i for i, r in enumerate(rep_ids)}
    after = [rep_pos.get(r, -1) for r in a["rep_id"]]
    before = [rep_pos.get(r, -1) if isinstance(r, str) else -1 for r in a["previous_rep_id"]]
    homes = np.column_stack([hx, -hy])
    for mask in insets:  # a home inside an inset's area moves with it
        if mask.any():
            box = (x[mask].min(), x[mask].max(), y[mask].min(), y[mask].max())
            at = (hx >= box[0]) & (hx <= box[1]) & (hy >= box[2]) & (hy <= box[3])
            shift_x = px[mask][0] - x[mask][0]
            shift_y = py[mask][0] + y[mask][0]
            homes[at, 0] += shift_x
            homes[at, 1] += shift_y
    names = a["name"].fillna(a["account_id"]).astype(str).tolist()
    data = {
        "x": np.round(px, 1).tolist(), "y": np.round(py, 1).tolist(),
        "id": a["account_id"].astype(str).tolist(), "name": names,
        "pot": np.round(a["potential"].to_numpy(dtype=float), 2).tolist(),
        "before": before, "after": after, "reps": [str(r) for r in rep_ids],
        "colour": [colours.get(r, GREY) for r in rep_ids],
        "home": [[round(float(u), 1), round(float(v), 1)] if np.isfinite(u) else None
                 for u, v in homes],
        "title": f"Alignment ({result.objective_name}): {len(a):,} accounts, "
                 f"{len(rep_ids)} reps, {result.moved_share:.1%} of potential moved",
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = _PAGE.replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", payload)
    return page.encode("utf-8")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:13px system-ui,sans-serif;margin:0;display:flex;height:100vh}
#side{width:220px;overflow:auto;border-right:1px solid #ddd;padding:8px}
#main{flex:1;position:relative}svg{width:100%;height:100%;background:#fafafa}
#tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #999;padding:4px 6px;
display:none;font-size:12px;white-space:pre-line;box-shadow:0 1px 3px #0003}
button{margin:2px}.on{font-weight:bold;background:#dde}.sw{display:inline-block;width:10px;
height:10px;margin-right:4px}.rep{cursor:pointer}.rep:hover{background:#eef}
</style></head><body>
<div id="side"><b>__TITLE__</b><br>
<button id="b0">Before</button><button id="b1" class="on">After</button>
<p>&#9733; rep home &middot; outline: convex hull of the territory's core (far outliers
left out) &middot; wheel to zoom,
drag to pan &middot; click a rep to highlight it</p><div id="legend"></div></div>
<div id="main"><svg id="map"></svg><div id="tip"></div></div>
<script>
const D=__DATA__;const NS="http://www.w3.org/2000/svg";const svg=document.getElementById("map");
let mode="after",focus=-1;
function el(t,a){const e=document.createElementNS(NS,t);for(const k in a)e.setAttribute(k,a[k]);return e}
const xs=D.x,ys=D.y;let x0=Math.min(...xs),x1=Math.max(...xs),y0=Math.min(...ys),y1=Math.max(...ys);
const pad=(x1-x0)*0.03;let vb=[x0-pad,y0-pad,x1-x0+2*pad,y1-y0+2*pad];
function setvb(){svg.setAttribute("viewBox",vb.join(" "))}setvb();
const maxp=Math.max(...D.pot)||1;const base=Math.max(vb[2],vb[3])/(D.x.length>5000?900:500);
function med(v){const w=v.slice().sort((a,b)=>a-b);return w[Math.floor(w.length/2)]}
function core(ix){if(ix.length<4)return ix;const cx=med(ix.map(i=>xs[i])),cy=med(ix.map(i=>ys[i]));
const d=ix.map(i=>Math.hypot(xs[i]-cx,ys[i]-cy));const m=Math.max(med(d),1e-9);return ix.filter((i,k)=>d[k]<=3*m)}
function hull(ix){ix=core(ix);const p=ix.map(i=>[xs[i],ys[i]]).sort((a,b)=>a[0]-b[0]||a[1]-b[1]);
if(p.length<3)return p;const c=(o,a,b)=>(a[0]-o[0])*(b[1]-o[1])-(a[1]-o[1])*(b[0]-o[0]);
const lo=[],up=[];for(const q of p){while(lo.length>1&&c(lo[lo.length-2],lo[lo.length-1],q)<=0)lo.pop();lo.push(q)}
for(const q of p.slice().reverse()){while(up.length>1&&c(up[up.length-2],up[up.length-1],q)<=0)up.pop();up.push(q)}
return lo.slice(0,-1).concat(up.slice(0,-1))}
function draw(){svg.textContent="";const own=D[mode];const g=el("g",{});svg.appendChild(g);
const by={};own.forEach((r,i)=>{(by[r]=by[r]||[]).push(i)});
for(const r in by){if(r<0)continue;const h=hull(by[r]);if(h.length<3)continue;
g.appendChild(el("polygon",{points:h.map(p=>p.join(",")).join(" "),fill:D.colour[r],
"fill-opacity":focus<0||focus==r?0.18:0.04,stroke:D.colour[r],"stroke-width":base*0.4}))}
const dots=el("g",{});g.appendChild(dots);
for(let i=0;i<xs.length;i++){const r=own[i];const c=el("circle",{cx:xs[i],cy:ys[i],
r:base*(0.8+2.5*Math.sqrt(D.pot[i]/maxp)),fill:r<0?"#bbb":D.colour[r],
"fill-opacity":focus<0||focus==r?0.85:0.15,"data-i":i});dots.appendChild(c)}
D.home.forEach((h,r)=>{if(!h)return;const s=base*4;const t=el("text",{x:h[0],y:h[1],
"font-size":s*2,"text-anchor":"middle","dominant-baseline":"central",fill:D.colour[r],
stroke:"#000","stroke-width":base*0.3,"data-r":r});t.textContent="\\u2605";g.appendChild(t)})}
function legend(){const L=document.getElementById("legend");L.textContent="";
D.reps.forEach((r,i)=>{const d=document.createElement("div");d.className="rep";
const s=document.createElement("span");s.className="sw";s.style.background=D.colour[i];
d.appendChild(s);d.appendChild(document.createTextNode(r));
d.onclick=()=>{focus=focus==i?-1:i;draw()};L.appendChild(d)})}
const tip=document.getElementById("tip");
svg.addEventListener("mousemove",e=>{const t=e.target;let text=null;
if(t.dataset.i!==undefined){const i=+t.dataset.i;const b=D.before[i],a=D.after[i];
text=D.name[i]+" ("+D.id[i]+")\\npotential "+D.pot[i].toLocaleString()+"\\nrep "+
(a<0?"-":D.reps[a])+(b!=a?" (before: "+(b<0?"none":D.reps[b])+")":"")}
else if(t.dataset.r!==undefined){text="home of rep "+D.reps[+t.dataset.r]}
if(!text){tip.style.display="none";return}tip.textContent=text;tip.style.display="block";
tip.style.left=(e.offsetX+12)+"px";tip.style.top=(e.offsetY+12)+"px"});
svg.addEventListener("wheel",e=>{e.preventDefault();const k=e.deltaY>0?1.2:1/1.2;
const r=svg.getBoundingClientRect();const fx=(e.clientX-r.left)/r.width,fy=(e.clientY-r.top)/r.height;
const w=vb[2]*k,h=vb[3]*k;vb=[vb[0]+(vb[2]-w)*fx,vb[1]+(vb[3]-h)*fy,w,h];setvb()},{passive:false});
let drag=null;svg.addEventListener("mousedown",e=>{drag=[e.clientX,e.clientY]});
window.addEventListener("mouseup",()=>{drag=null});
svg.addEventListener("mousemove",e=>{if(!drag)return;const r=svg.getBoundingClientRect();
vb[0]-=(e.clientX-drag[0])*vb[2]/r.width;vb[1]-=(e.clientY-drag[1])*vb[3]/r.height;
drag=[e.clientX,e.clientY];setvb()});
for(const [id,m] of [["b0","before"],["b1","after"]])document.getElementById(id).onclick=()=>{
mode=m;document.getElementById("b0").className=m=="before"?"on":"";
document.getElementById("b1").className=m=="after"?"on":"";draw()};
legend();draw();
</script></body></html>
"""
