-- The screen of Neovim editing a spec with `archspec lsp`: what docs/images/lsp-neovim.svg shows.
-- Run by tests/editors/screenshot.py (the same environment variables as neovim_lsp.lua, less ARCHSPEC_BREAK
-- plus ARCHSPEC_EDIT: {line, text}, a line to replace after the first check). Neovim 0.7 has no inlay-hint
-- display, so the hints the server sends are drawn as end-of-line virtual text (as 0.10+ draws them); the
-- diagnostics are Neovim's own virtual text and signs. The screen is read back with screenstring().
local function wait_for(what, test)
  assert(vim.wait(30000, test, 20), "waited in vain for " .. what)
end
local ok, err = pcall(function()
  vim.o.columns, vim.o.lines = 124, 17
  vim.o.number, vim.o.signcolumn, vim.o.wrap, vim.o.ruler, vim.o.showmode = true, "yes", false, false, false
  vim.cmd("syntax on")
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("ARCHSPEC_SPEC")))
  local client = vim.lsp.start_client({
    name = "archspec",
    cmd = vim.fn.json_decode(os.getenv("ARCHSPEC_LSP_CMD")),
    root_dir = vim.fn.getcwd(),
    flags = { debounce_text_changes = 20 },
  })
  vim.lsp.buf_attach_client(0, client)
  local ns = vim.api.nvim_create_namespace("inlay")
  local function show_hints()
    vim.api.nvim_buf_clear_namespace(0, ns, 0, -1)
    local params = {
      textDocument = vim.lsp.util.make_text_document_params(),
      range = { start = { line = 0, character = 0 }, ["end"] = { line = vim.api.nvim_buf_line_count(0), character = 0 } },
    }
    local count = 0
    for _, answer in pairs(vim.lsp.buf_request_sync(0, "textDocument/inlayHint", params, 30000) or {}) do
      for _, hint in ipairs(answer.result or {}) do
        vim.api.nvim_buf_set_extmark(0, ns, hint.position.line, 0, {
          virt_text = { { "  " .. hint.label, "Comment" } }, virt_text_pos = "eol", priority = 200,
        })
        count = count + 1
      end
    end
    return count
  end
  wait_for("the server", function()
    local started = vim.lsp.get_client_by_id(client)
    return started ~= nil and started.initialized == true
  end)
  wait_for("the first check", function() return show_hints() > 0 end)
  local edit = vim.fn.json_decode(os.getenv("ARCHSPEC_EDIT"))
  vim.api.nvim_buf_set_lines(0, edit.line, edit.line + 1, true, { edit.text })
  wait_for("the edit's error", function() return #vim.diagnostic.get(0, { severity = vim.diagnostic.severity.ERROR }) > 0 end)
  show_hints()
  vim.cmd("redraw!")
  local rows = {}
  for r = 1, vim.o.lines do
    local cells = {}
    for c = 1, vim.o.columns do cells[c] = vim.fn.screenstring(r, c) end
    rows[r] = table.concat(cells)
  end
  local out = io.open(os.getenv("ARCHSPEC_OUT"), "w")
  out:write(vim.fn.json_encode({ rows = rows }))
  out:close()
end)
if not ok then
  local out = io.open(os.getenv("ARCHSPEC_OUT"), "w")
  out:write(vim.fn.json_encode({ error = tostring(err) }))
  out:close()
end
vim.cmd("qall!")
