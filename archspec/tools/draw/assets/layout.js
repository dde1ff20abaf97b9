// The diagram's layout for the page: sizes and positions of the boxes for the blocks open now,
// and the path of every edge. The same algorithm, line for line, as `place` and `edge_path` in
// archspec/tools/draw/layout.py, which lays out the SVG the page starts from;
// tests/test_draw_layout.py runs this file in Node.js and checks that both agree.
//
// archspecLayout(D) takes the page's data island (geometry, boxes by id, the root's id) and
// returns the functions; place() and edgePath() read and write the boxes of D.
function archspecLayout(D) {
  'use strict';
  var G = D.geometry, B = D.boxes;
  // one decimal, halves rounded up: geometry.num in Python writes numbers the same way
  function num(x) { return (Math.round(x * 10) / 10).toString(); }
  function isRoot(b) { return b.parent === null; }
  function place(b) {
    var i, c;
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      if (c.children.length === 0) c.m = c.closed; else place(c);
    }
    var colw = [], asc = [], desc = [];
    for (i = 0; i < b.ncols; i++) colw.push(0);
    for (i = 0; i < b.nlanes; i++) { asc.push(0); desc.push(0); }
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      colw[c.col] = Math.max(colw[c.col], c.m[0]);
      asc[c.lane] = Math.max(asc[c.lane], c.m[4]);
      desc[c.lane] = Math.max(desc[c.lane], c.m[1] - c.m[4]);
    }
    var root = isRoot(b);
    var top = (root ? G.MARGIN : G.HEADER + 4) + b.nbypass * G.BYPASS;
    var laneY = [], y = top;
    for (i = 0; i < b.nlanes; i++) { laneY.push(y + asc[i]); y += asc[i] + desc[i] + G.LANE_GAP; }
    var height = y - G.LANE_GAP + (root ? G.MARGIN : 8);
    var colx = [], x = G.GAP;
    for (i = 0; i < b.ncols; i++) { colx.push(x); x += colw[i] + G.GAP; }
    var width = x;
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      c.x = colx[c.col] + (colw[c.col] - c.m[0]) / 2;
      c.y = laneY[c.lane] - c.m[4];
    }
    b.colx = colx; b.colw = colw; b.laneY = laneY;
    var oy;
    if (b.out >= 0) { var o = B[b.children[b.out]]; oy = o.y + o.m[5]; } else { oy = laneY.length ? laneY[0] : height / 2; }
    b.opened = [width, height, 0, width, laneY.length ? laneY[0] : height / 2, oy];
    b.m = (b.collapsed && !root) ? b.closed : b.opened;
  }
  function edgePath(b, e) {
    var a = e[0], t = e[1], route = e[2], value = e[3], n = b.ncols;
    var x1, y1, colA, x2, y2, colB, c;
    if (a >= 0) { c = B[b.children[a]]; x1 = c.x + c.m[3]; y1 = c.y + c.m[5]; colA = c.col; }
    else { x1 = 0; y1 = b.laneY[0]; colA = -1; }
    if (t >= 0) { c = B[b.children[t]]; x2 = c.x + c.m[2]; y2 = c.y + c.m[4]; colB = c.col; }
    else {
      var o = b.out >= 0 ? B[b.children[b.out]] : null;
      x2 = n ? b.colx[n - 1] + b.colw[n - 1] + G.GAP : b.opened[0]; y2 = o ? o.y + o.m[5] : y1; colB = n;
    }
    var ga = colA >= 0 ? b.colx[colA] + b.colw[colA] : 0;
    var gb = colB < n ? b.colx[colB] : x2;
    if (route === 'adj') {
      if (Math.abs(y1 - y2) < 0.5) return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(x2);
      var mid = (ga + gb) / 2;
      return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(ga) + 'C' + num(mid) + ' ' + num(y1) + ' ' + num(mid) + ' ' + num(y2) + ' ' + num(gb) + ' ' + num(y2) + 'H' + num(x2);
    }
    var yr = route === 'lane' ? b.laneY[value] : (isRoot(b) ? G.MARGIN : G.HEADER + 4) + (b.nbypass - value) * G.BYPASS + G.BYPASS / 2;
    var h = G.GAP / 2;
    return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(ga) + 'C' + num(ga + h) + ' ' + num(y1) + ' ' + num(ga + h) + ' ' + num(yr) + ' ' + num(ga + G.GAP) + ' ' + num(yr) +
      'H' + num(gb - G.GAP) + 'C' + num(gb - h) + ' ' + num(yr) + ' ' + num(gb - h) + ' ' + num(y2) + ' ' + num(gb) + ' ' + num(y2) + 'H' + num(x2);
  }
  return {num: num, isRoot: isRoot, place: place, edgePath: edgePath};
}
