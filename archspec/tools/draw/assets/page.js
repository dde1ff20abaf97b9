// The page's behaviour: opens and closes blocks (laying the drawing out again with layout.js),
// shows a block's or layer's details on hover, reports script errors in #errors and, once
// drawn, what is visible in #status (the tests read both from Chromium's DOM dump).
(function () {
  var errors = document.getElementById('errors');
  function report(msg) { errors.textContent += msg + '\n'; document.body.setAttribute('data-error', '1'); }
  window.onerror = function (msg, src, line) { report('error: ' + msg + ' (line ' + line + ')'); };
  var origError = console.error;
  console.error = function () { report('console.error: ' + Array.prototype.join.call(arguments, ' ')); origError.apply(console, arguments); };
  var D = JSON.parse(document.getElementById('data').textContent);
  var B = D.boxes, ROOT = D.root, L = archspecLayout(D), num = L.num, isRoot = L.isRoot;
  function apply(b) {
    var i, el = document.getElementById('b' + b.id);
    if (!isRoot(b)) {
      el.setAttribute('transform', 'translate(' + num(b.x) + ' ' + num(b.y) + ')');
      if (b.children.length) el.setAttribute('class', 'unit ' + (b.collapsed ? 'collapsed' : 'expanded'));
    }
    if (!b.children.length || (b.collapsed && !isRoot(b))) return;
    if (!isRoot(b)) {
      var f = document.getElementById('f' + b.id);
      f.setAttribute('width', num(b.opened[0])); f.setAttribute('height', num(b.opened[1]));
    }
    for (i = 0; i < b.edges.length; i++) document.getElementById('e' + b.id + '_' + i).setAttribute('d', L.edgePath(b, b.edges[i]));
    for (i = 0; i < b.children.length; i++) apply(B[b.children[i]]);
  }
  var svg = document.getElementById('net');
  function redraw() {
    var r = B[ROOT];
    L.place(r); apply(r);
    svg.setAttribute('width', num(r.m[0])); svg.setAttribute('height', num(r.m[1]));
    svg.setAttribute('viewBox', '0 0 ' + num(r.m[0]) + ' ' + num(r.m[1]));
    status();
  }
  function setAll(collapsed) { for (var i = 0; i < B.length; i++) if (B[i].children.length && B[i].parent !== null) B[i].collapsed = collapsed; redraw(); }
  function visible(el) {
    for (var n = el; n && n !== svg; n = n.parentNode) if (n.nodeType === 1 && getComputedStyle(n).display === 'none') return false;
    var r = el.getBBox(); return r.width > 0 && r.height > 0;
  }
  function status() {
    var shown = [], texts = svg.querySelectorAll('text.t-name, text.t-head');
    for (var i = 0; i < texts.length; i++) if (visible(texts[i])) shown.push(texts[i].textContent.replace(/^\u2212 /, '').replace(/  \(.*$/, ''));
    var st = document.getElementById('status');
    st.textContent = JSON.stringify({ready: true, width: svg.getAttribute('width'), height: svg.getAttribute('height'), visible: shown});
    document.body.setAttribute('data-ready', '1');
  }
  var tip = document.getElementById('tip');
  function boxOf(el) { while (el && el !== svg) { if (el.getAttribute && el.getAttribute('data-i') !== null && el.classList && !el.classList.contains('root')) return el; el = el.parentNode; } return null; }
  svg.addEventListener('click', function (ev) {
    var el = boxOf(ev.target); if (!el) return;
    var b = B[+el.getAttribute('data-i')];
    if (!b.children.length) return;
    if (!b.collapsed && !ev.target.closest('.frame')) return;  // clicks inside an open block belong to its children
    b.collapsed = !b.collapsed; ev.stopPropagation(); redraw();
  });
  svg.addEventListener('mousemove', function (ev) {
    var el = boxOf(ev.target);
    if (!el) { tip.style.display = 'none'; return; }
    // built node by node: a layer's name or kind is text, never markup
    var b = B[+el.getAttribute('data-i')], table = document.createElement('table'), row, cell;
    for (var k in b.info) {
      row = table.insertRow();
      cell = document.createElement('th'); cell.textContent = k; row.appendChild(cell);
      row.insertCell().textContent = String(b.info[k]);
    }
    if (b.children.length) {
      cell = table.insertRow().insertCell();
      cell.colSpan = 2; cell.className = 'hint'; cell.textContent = 'click to ' + (b.collapsed ? 'open' : 'close');
    }
    tip.replaceChildren(table);
    tip.style.display = 'block';
    tip.style.left = (ev.pageX + 14) + 'px'; tip.style.top = (ev.pageY + 14) + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  document.getElementById('expand').onclick = function () { setAll(false); };
  document.getElementById('collapse').onclick = function () { setAll(true); };
  var hash = decodeURIComponent(location.hash.slice(1)), m = /(?:^|&)open=([^&]*)/.exec(hash);
  if (/(?:^|&)expand(?:&|$)/.test(hash)) setAll(false);
  else {
    if (m) { var names = m[1].split(','); for (var i = 0; i < B.length; i++) if (B[i].children.length && names.indexOf(B[i].info.name) >= 0) B[i].collapsed = false; }
    redraw();
  }
})();
