-- SPDX-License-Identifier: MIT
-- pandoc filter: a link to a local .md file (with or without #fragment) points at its .html page.
function Link(el)
  if not el.target:match("^%a[%w+.-]*:") then
    el.target = el.target:gsub("%.md$", ".html"):gsub("%.md#", ".html#")
  end
  return el
end
