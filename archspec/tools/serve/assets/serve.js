// archspec serve: the page's behaviour.
// Spec pane: every edit is sent to /api/spec/check (one request in flight, the latest text next), and
// the answer fills the shapes table, the diagram (archspec draw's page, in an iframe) and the problems,
// each marked at its line. Model pane: the pad's drawing, shrunk to the size the model was trained on,
// or an uploaded image, is sent to /api/model/look after each stroke; the answer is inspect's figures.
// #status holds a JSON summary and each update fires an 'archspec:spec' or 'archspec:model' event
// (the browser tests wait on them; specSettled/modelSettled say no newer request is waiting).
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var status = {ready: false, spec: 0, model: 0, specMs: null, modelMs: null, problems: [], top: null, errors: []};
  function publish(kind) {
    $('status').textContent = JSON.stringify(status);
    window.dispatchEvent(new CustomEvent('archspec:' + kind, {detail: status}));
  }
  function fail(msg) {
    status.errors.push(msg);
    $('errors').textContent += msg + '\n';
    publish('error');
  }
  window.addEventListener('error', function (ev) { fail('error: ' + ev.message + ' (line ' + ev.lineno + ')'); });
  window.addEventListener('unhandledrejection', function (ev) { fail('error: ' + (ev.reason && ev.reason.message || ev.reason)); });

  // One JSON answer from the server, whatever its status (refusals are JSON too).
  function call(url, body, type) {
    var init = body === undefined ? {} : {method: 'POST', body: body, headers: {'Content-Type': type || 'application/json'}};
    return fetch(url, init).then(function (r) {
      return r.json().then(function (data) { return {status: r.status, data: data, retry: data.retry_after_ms || 1000}; });
    });
  }

  // The DOM is built node by node: elements by createElement, text as text nodes, attributes as properties
  // (or setAttribute for data-*). No string from the server (a spec's keys and names, messages, class names)
  // is ever parsed as HTML, so none can become an element or an attribute.
  function el(tag, props, children) {
    var e = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k.slice(0, 5) === 'data-') e.setAttribute(k, props[k]); else e[k] = props[k];
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fillWith(box, nodes) {
    var f = document.createDocumentFragment();
    nodes.forEach(function (n) { if (n) f.appendChild(n); });
    box.replaceChildren(f);
  }
  // inspect's figures arrive as element trees, [tag, {attribute: value}, ...children] (archspec/tools/elements.py):
  // built here from a fixed set of elements and attributes, images only as inline PNG data
  var TREE_TAGS = ['figure', 'figcaption', 'img', 'code', 'span', 'p', 'b', 'table', 'tr', 'td', 'div'];
  var TREE_ATTRS = /^(class|alt|width|height|style|data-[a-z][a-z-]*)$/, PNG_DATA = /^data:image\/png;base64,[A-Za-z0-9+\/=]*$/;
  function build(node) {
    if (typeof node === 'string') return document.createTextNode(node);
    if (!Array.isArray(node) || TREE_TAGS.indexOf(node[0]) < 0) { fail('error: unexpected figure element ' + JSON.stringify(node).slice(0, 80)); return null; }
    var e = document.createElement(node[0]), attrs = node[1] || {};
    Object.keys(attrs).forEach(function (k) {
      if (k === 'src' && node[0] === 'img' && PNG_DATA.test(attrs[k])) e.src = attrs[k];
      else if (TREE_ATTRS.test(k)) e.setAttribute(k, String(attrs[k]));
      else fail('error: unexpected figure attribute ' + JSON.stringify(k).slice(0, 80));
    });
    for (var i = 2; i < node.length; i++) { var c = build(node[i]); if (c) e.appendChild(c); }
    return e;
  }
  function showTrees(box, trees) { fillWith(box, (trees || []).map(build)); }

  // A pump: `send` runs with the newest request; while one is in flight, later ones collapse into one.
  // status[name + 'Settled'] turns false when a request is queued; the answer's renderer sets it again.
  function pump(name, send) {
    var inflight = false, pending = null;
    function go() {
      if (inflight || pending === null) return;
      var job = pending; pending = null; inflight = true;
      send(job).then(function (again) {
        inflight = false;
        if (again) { if (pending === null) pending = job; setTimeout(go, again); } else go();
      }, function (err) { inflight = false; fail('error: ' + err); });
    }
    // a newer job replaces the waiting one but keeps its start time: the latency counted is the oldest unanswered edit's
    function queue(job) {
      status[name + 'Settled'] = false;
      pending = pending === null ? job : Object.assign({}, job, {started: pending.started});
      go();
    }
    queue.waiting = function () { return pending !== null; };  // a newer job waits: the answer being shown is not the last
    return queue;
  }

  // ---- spec pane ----------------------------------------------------------------------------
  var editor = $('editor'), gutter = $('gutter'), backdrop = $('backdrop');
  var spec = null, marks = {}, shownHtml = null, variables = {};

  function lines() { return editor.value.split('\n'); }
  function paintEditor() {
    var ls = lines(), g = document.createDocumentFragment(), b = document.createDocumentFragment();
    for (var i = 0; i < ls.length; i++) {
      var m = marks[i + 1];
      if (i) g.appendChild(document.createTextNode('\n'));
      g.appendChild(el('span', m ? {className: m.kind, title: m.text} : null, [String(i + 1)]));
      b.appendChild(el('div', {className: 'line' + (m ? ' ' + m.kind : '')},
                       m ? [ls[i], el('span', {className: 'lens', 'data-line': i + 1}, ['\u2190 ' + m.text])] : [ls[i]]));
    }
    gutter.replaceChildren(g);
    backdrop.replaceChildren(b);
    editor.style.height = 'auto';
    editor.style.height = editor.scrollHeight + 'px';
    editor.style.width = '100%';
    editor.style.width = Math.max(editor.scrollWidth, backdrop.scrollWidth) + 'px';
  }
  function goToLine(line) {
    var ls = lines(), at = 0;
    for (var i = 0; i < line - 1 && i < ls.length; i++) at += ls[i].length + 1;
    editor.focus();
    editor.setSelectionRange(at, at);
    var box = $('editor-box');
    box.scrollTop = Math.max(0, (line - 4) * 18);
  }
  function problemBlock(p, cls) {
    var pre = document.createElement('pre');
    pre.className = cls;
    pre.textContent = p.message;
    if (p.line) { pre.setAttribute('data-line', p.line); pre.onclick = function () { goToLine(p.line); }; }
    return pre;
  }
  function renderTable(t) {
    function row(cells, tag) {
      return el('tr', null, cells.map(function (c, i) { return el(tag, t.right[i] ? {className: 'num'} : null, [String(c)]); }));
    }
    var caption = [t.title, t.outputs, t.note].filter(Boolean).join(' \u00b7 ');
    fillWith($('shapes'), [el('caption', null, [caption]), el('thead', null, [row(t.header, 'th')]),
                           el('tbody', null, t.rows.map(function (r) { return row(r, 'td'); })), el('tfoot', null, [row(t.footer, 'td')])]);
  }
  function renderVariables(vars, sets) {
    var box = $('variables'), given = currentSets(sets), names = Object.keys(vars || {});
    Object.keys(given).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); });
    var key = names.join('\u0000');
    if (box.getAttribute('data-names') === key) return;
    box.setAttribute('data-names', key);
    box.replaceChildren();
    names.forEach(function (k) {
      var label = document.createElement('label'), input = document.createElement('input');
      label.textContent = '--set ' + k + '=';
      input.setAttribute('data-var', k);
      input.placeholder = vars && k in vars ? vars[k] : '';
      input.value = k in given ? given[k] : '';
      input.title = 'a value for ' + k + ' in place of the spec\'s (as --set ' + k + '=VALUE does); empty: the spec\'s';
      input.addEventListener('input', function () { edited(); });
      label.appendChild(input);
      box.appendChild(label);
    });
  }
  function currentSets(initial) {
    var out = {}, inputs = $('variables').querySelectorAll('input[data-var]');
    if (!inputs.length && initial) initial.forEach(function (s) { var i = s.indexOf('='); out[s.slice(0, i)] = s.slice(i + 1); });
    Array.prototype.forEach.call(inputs, function (el) { if (el.value !== '') out[el.getAttribute('data-var')] = el.value; });
    return out;
  }
  function setsList() {
    var s = currentSets(), out = [];
    Object.keys(s).forEach(function (k) { out.push(k + '=' + s[k]); });
    return out;
  }
  // archspec draw's page, written into the frame's document: its scripts run during the write, so the
  // diagram is laid out when this returns (a srcdoc navigation took some 40 ms more per update)
  function showDiagram(html) {
    if (html === shownHtml) return;
    shownHtml = html;
    var doc = $('diagram').contentDocument;
    doc.open(); doc.write(html); doc.close();
  }
  function renderCheck(r, started) {
    marks = {};
    var problems = $('problems'), warnings = $('warnings');
    problems.replaceChildren(); warnings.replaceChildren();
    if (r.variables) renderVariables(r.variables);
    (r.ok ? r.warnings : []).forEach(function (p) {
      warnings.appendChild(problemBlock(p, 'warning'));
      if (p.line && !marks[p.line]) marks[p.line] = {kind: 'warn', text: p.summary};
    });
    status.problems = r.ok ? [] : r.problems.map(function (p) { return {line: p.line, column: p.column, message: p.message}; });
    if (!r.ok) {
      r.problems.forEach(function (p) {
        problems.appendChild(problemBlock(p, 'problem'));
        if (p.line && (!marks[p.line] || marks[p.line].kind !== 'bad')) marks[p.line] = {kind: 'bad', text: p.summary};
      });
    }
    paintEditor();
    $('shapes').classList.toggle('stale', !r.ok);
    $('diagram').classList.toggle('stale', !r.ok);
    if (r.ok) renderTable(r.table);
    status.tableMs = Math.round(performance.now() - started);  // the table and the problems are up; the diagram follows
    if (r.ok) showDiagram(r.diagram);
    status.spec += 1;
    status.specSettled = !check.waiting();
    status.ok = r.ok;
    status.specMs = Math.round(performance.now() - started);
    status.firstRow = r.ok && r.table.rows.length ? r.table.rows[0] : null;
    publish('spec');
  }
  var check = pump('spec', function (job) {
    var started = job.started;
    return call('/api/spec/check', JSON.stringify({text: job.text(), sets: setsList()})).then(function (res) {
      if (res.status === 429) return res.retry;
      if (res.status === 422 && res.data.problems) {  // over the server's budget: shown as the spec's problem
        renderCheck({ok: false, problems: res.data.problems, variables: null}, started);
        return 0;
      }
      if (res.status !== 200) { fail('check refused: ' + res.data.error); return 0; }
      renderCheck(res.data, started);
      return 0;
    });
  });
  function edited() {
    paintEditor();
    updateSaved();
    check({started: performance.now(), text: function () { return editor.value; }});
  }
  function updateSaved(note) {
    if (!spec) return;
    var dirty = editor.value !== spec.savedText;
    $('saved').textContent = note || (spec.read_only ? 'read-only: ' + spec.read_only : dirty ? 'unsaved changes' : 'saved');
  }
  function save() {
    if (!spec || spec.read_only) return;
    var text = editor.value;
    call('/api/spec/save', JSON.stringify({text: text, version: spec.version})).then(function (res) {
      if (res.status === 200) {
        spec.version = res.data.version; spec.savedText = text;
        updateSaved('saved ' + new Date().toLocaleTimeString());
        status.saved = (status.saved || 0) + 1;
      } else {
        updateSaved(res.data.error);
        status.saveError = res.data.error;
      }
      publish('save');
    });
  }
  function startSpec(s) {
    spec = s; spec.savedText = s.text;
    $('spec-pane').hidden = false;
    $('spec-name').textContent = s.name;
    editor.value = s.text;
    if (s.read_only) { $('save').disabled = true; $('save').title = s.read_only; }
    renderVariables({}, s.sets);
    editor.addEventListener('input', edited);
    editor.addEventListener('keydown', function (ev) {
      if (ev.key === 'Tab' && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
        ev.preventDefault();
        document.execCommand('insertText', false, '  ');
      } else if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
        ev.preventDefault();
        save();
      }
    });
    $('save').addEventListener('click', save);
    updateSaved();
    edited();
  }

  // ---- model pane ---------------------------------------------------------------------------
  var model = null, pad = $('pad'), pen = pad.getContext('2d'), drawing = false, last = null;
  function clearPad() { pen.fillStyle = '#000'; pen.fillRect(0, 0, pad.width, pad.height); }
  function padPoint(ev) {
    var r = pad.getBoundingClientRect();
    return {x: (ev.clientX - r.left) * pad.width / r.width, y: (ev.clientY - r.top) * pad.height / r.height};
  }
  function stroke(to) {
    pen.strokeStyle = '#fff'; pen.fillStyle = '#fff'; pen.lineCap = 'round'; pen.lineJoin = 'round';
    pen.lineWidth = pad.width / 11;
    pen.beginPath();
    pen.moveTo(last.x, last.y);
    pen.lineTo(to.x + 0.01, to.y);
    pen.stroke();
    last = to;
  }
  // The drawing at the size of the images the model was trained on (28x28 for MNIST), as a PNG.
  function padImage() {
    var small = document.createElement('canvas');
    small.width = model.canvas[1]; small.height = model.canvas[0];
    var c = small.getContext('2d');
    c.imageSmoothingEnabled = true; c.imageSmoothingQuality = 'high';
    c.drawImage(pad, 0, 0, small.width, small.height);
    // toDataURL, not toBlob: Chromium may put toBlob's encoding off by a second; this is a 28x28 image
    var text = atob(small.toDataURL('image/png').split(',')[1]), bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return Promise.resolve({body: bytes, type: 'image/png'});
  }
  function renderLook(res, started, what) {
    var answer = $('answer');
    if (res.status !== 200) {
      answer.className = 'answer error';
      answer.textContent = res.data.error;
      status.top = null;
    } else {
      var r = res.data;
      answer.className = 'answer';
      fillWith(answer, [el('b', null, [r.top.name]), document.createTextNode(' ' + (100 * r.top.probability).toFixed(1) + ' %')]);
      showTrees($('seen-input'), r.input);  // inspect's figures, as element trees
      showTrees($('probs'), r.table);
      showTrees($('maps'), r.maps);
      status.top = r.top;
      status.plan = r.plan;
    }
    status.model += 1;
    status.looked = what;  // 'pad', or the uploaded file's name: which answer this is
    status.modelSettled = !look.waiting();
    status.modelMs = Math.round(performance.now() - started);
    publish('model');
  }
  var look = pump('model', function (job) {
    var started = job.started, what = job.what;
    return job.image().then(function (img) {
      return call('/api/model/look', img.body, img.type);
    }).then(function (res) {
      if (res.status === 429) return res.retry;
      renderLook(res, started, what);
      return 0;
    });
  });
  function lookAtPad() { look({started: performance.now(), what: 'pad', image: padImage}); }
  function lookAtFile(file) {
    look({started: performance.now(), what: file.name, image: function () { return Promise.resolve({body: file, type: file.type || 'application/octet-stream'}); }});
    createImageBitmap(file).then(function (bitmap) {  // shown on the pad; further strokes draw over it
      clearPad();
      var k = Math.min(pad.width / bitmap.width, pad.height / bitmap.height), w = bitmap.width * k, h = bitmap.height * k;
      pen.imageSmoothingEnabled = false;
      pen.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    }, function () { /* not an image the browser reads: the server's answer says why */ });
  }
  function startModel(m) {
    model = m;
    $('model-pane').hidden = false;
    $('model-facts').textContent = m.model + ' \u00b7 ' + m.params.toLocaleString('en') + ' parameters \u00b7 input ' +
      m.input_shape.join('x') + ' \u00b7 ' + m.classes + ' classes';
    $('pad-note').textContent = 'Draw with the mouse or a finger: the drawing is sent at ' + m.canvas[0] + 'x' + m.canvas[1] +
      ' pixels (the size the model was trained on) and goes through its preprocessing plan.';
    showTrees($('filters'), m.filters);
    clearPad();
    pad.addEventListener('pointerdown', function (ev) {
      ev.preventDefault();
      pad.setPointerCapture(ev.pointerId);
      drawing = true; last = padPoint(ev);
      stroke(last);
      lookAtPad();
    });
    pad.addEventListener('pointermove', function (ev) { if (drawing) { stroke(padPoint(ev)); lookAtPad(); } });
    function end() { if (drawing) { drawing = false; lookAtPad(); } }
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
    $('clear').addEventListener('click', function () { clearPad(); $('answer').textContent = ''; });
    $('upload').addEventListener('change', function () { if (this.files.length) lookAtFile(this.files[0]); });
    pad.addEventListener('dragover', function (ev) { ev.preventDefault(); pad.classList.add('over'); });
    pad.addEventListener('dragleave', function () { pad.classList.remove('over'); });
    pad.addEventListener('drop', function (ev) {
      ev.preventDefault(); pad.classList.remove('over');
      if (ev.dataTransfer.files.length) lookAtFile(ev.dataTransfer.files[0]);
    });
  }

  call('/api/session').then(function (res) {
    var s = res.data;
    if (s.model) startModel(s.model);
    if (s.spec) startSpec(s.spec);
    $('facts').textContent = [s.spec ? s.spec.name : null, s.model ? s.model.name : null].filter(Boolean).join(' \u00b7 ');
    status.ready = true;
    publish('ready');
  });
})();
