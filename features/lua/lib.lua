-- Shared by every part of a composed script (features/roundtrip.py prepends it once).
local function split(str, sep)  -- sep: one plain character; keeps empty fields
  local out, pos = {}, 1
  while true do
    local j = string.find(str, sep, pos, true)
    if not j then out[#out + 1] = string.sub(str, pos); return out end
    out[#out + 1] = string.sub(str, pos, j - 1)
    pos = j + 1
  end
end
