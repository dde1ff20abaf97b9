-- Neovim's built-in LSP client (no plugin) started on a spec, as a user's config would, then asked
-- what it received: run by tests/test_lsp_neovim.py as
--   nvim --headless --clean -n -c "luafile neovim_lsp.lua"
-- with ARCHSPEC_LSP_CMD (JSON: the server's command), ARCHSPEC_SPEC (the file to open), ARCHSPEC_BREAK
-- (JSON: {line, text}, a line to replace once the first diagnostics came, as typing would) and ARCHSPEC_OUT
-- (where the JSON result is written). Neovim 0.7 has no inlay-hint UI, so the hints are requested with
-- vim.lsp.buf_request_sync, the diagnostics read from vim.diagnostic.
local out = {}
local function finish()
  local file = io.open(os.getenv("ARCHSPEC_OUT"), "w")
  file:write(vim.fn.json_encode(out))
  file:close()
  vim.cmd("qall!")
end
local function diagnostics()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    table.insert(found, { line = d.lnum, col = d.col, severity = d.severity, message = d.message, source = d.source })
  end
  return found
end
local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("ARCHSPEC_SPEC")))
  local client = vim.lsp.start_client({
    name = "archspec",
    cmd = vim.fn.json_decode(os.getenv("ARCHSPEC_LSP_CMD")),
    root_dir = vim.fn.getcwd(),
    flags = { debounce_text_changes = 20 },
  })
  assert(client, "the client did not start")
  vim.lsp.buf_attach_client(0, client)
  assert(vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 20), "no diagnostics came")
  out.opened = diagnostics()
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(),
    range = { start = { line = 0, character = 0 }, ["end"] = { line = vim.api.nvim_buf_line_count(0), character = 0 } },
  }
  local answers = vim.lsp.buf_request_sync(0, "textDocument/inlayHint", params, 30000)
  out.hints = {}
  for _, answer in pairs(answers or {}) do
    assert(not answer.err, vim.inspect(answer.err))
    for _, hint in ipairs(answer.result or {}) do
      table.insert(out.hints, { line = hint.position.line, character = hint.position.character, label = hint.label })
    end
  end
  local typed = vim.fn.json_decode(os.getenv("ARCHSPEC_BREAK"))
  vim.api.nvim_buf_set_lines(0, typed.line, typed.line + 1, true, { typed.text })
  assert(
    vim.wait(30000, function()
      for _, d in ipairs(vim.diagnostic.get(0)) do
        if d.severity == vim.diagnostic.severity.ERROR then return true end
      end
      return false
    end, 20),
    "no error after the edit"
  )
  out.edited = diagnostics()
end)
if not ok then out.error = tostring(err) end
finish()
