"""The page and its two assets (``assets/serve.js``, ``assets/serve.css``), read once from the package.

The page is a shell: its script asks /api/session what the server shows and fills the panes.
Nothing is loaded from elsewhere (no CDN): the editor is a textarea with a line-number gutter,
the diagram is `archspec draw`'s own page in an iframe, the model's figures are `inspect`'s.
"""

from __future__ import annotations

import html
from importlib.resources import files

from ..inspection import FIGURE_STYLE


def _asset(name: str) -> str:
    return files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


ASSETS: dict[str, tuple[str, str]] = {
    "serve.js": (_asset("serve.js"), "text/javascript; charset=utf-8"),
    "serve.css": (_asset("serve.css") + FIGURE_STYLE, "text/css; charset=utf-8"),
}
"""name -> (text, media type): the only files the server sends."""


def page(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — archspec serve</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/serve.css">
</head>
<body>
<header><h1>{html.escape(title)}</h1><span id="facts" class="facts"></span><pre id="errors"></pre></header>
<main>
<section id="model-pane" class="pane" hidden>
  <h2>Model <span id="model-facts" class="facts"></span></h2>
  <div class="row">
    <div class="draw">
      <canvas id="pad" width="280" height="280" aria-label="draw here"></canvas>
      <div class="tools"><button id="clear" type="button">clear</button>
        <label class="upload">image… <input id="upload" type="file"
          accept="image/png,image/jpeg,image/gif,image/bmp"></label></div>
      <p id="pad-note" class="facts"></p>
    </div>
    <div class="seen">
      <p id="answer" class="answer"></p>
      <div id="seen-input"></div>
      <div id="probs"></div>
    </div>
    <div id="filters"></div>
  </div>
  <h3>Feature maps</h3>
  <div id="maps"><p class="facts">Draw a digit or drop an image on the pad.</p></div>
</section>
<section id="spec-pane" class="pane" hidden>
  <div class="toolbar"><h2 id="spec-name"></h2><span id="variables"></span><span class="grow"></span>
    <span id="saved" class="facts"></span><button id="save" type="button">save</button></div>
  <div class="columns">
    <div class="left">
      <div id="editor-box" class="editor"><pre id="gutter" aria-hidden="true"></pre><div class="code"><pre
        id="backdrop" aria-hidden="true"></pre><textarea id="editor" spellcheck="false" wrap="off" autocomplete="off"
        autocapitalize="off" aria-label="spec"></textarea></div></div>
      <div id="problems"></div>
    </div>
    <div class="right">
      <div id="warnings"></div>
      <table id="shapes"></table>
    </div>
  </div>
  <iframe id="diagram" title="diagram"></iframe>
</section>
</main>
<pre id="status"></pre>
<script src="/assets/serve.js"></script>
</body>
</html>
"""
