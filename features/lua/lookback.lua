-- Look-back on a confirmed fraud: every application linked to it that was made in the
-- N days before the confirmation, with the identifier that links them.
-- ARGV: prefix, look-back ms, hub, then pairs (application_id, confirmation_time).
-- Returns, per confirmation, a string "" (unknown application) or records separated by
-- \30, fields by \31: linked app id, its event time, the kind of the linking node
-- ('id' = the same identity), the node hash. An identifier used by more than HUB
-- applications in the window (a carrier IP, a large employer) links nothing, as in graph.lua.
local P = ARGV[1] .. ':g:'
local BACK, HUB = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV - 1, 2 do
  local app, tc = ARGV[i], tonumber(ARGV[i + 1])
  local rec = redis.call('GET', P .. 'a:' .. app)
  local found = {}
  if rec then
    local parts = {}
    for x in string.gmatch(rec, '[^,]+') do parts[#parts + 1] = x end
    local seen = {[app] = true}
    local function take(members, kind, node)
      for j = 1, #members, 2 do
        local m = members[j]
        local bar = string.find(m, '|', 1, true)
        local other = string.sub(m, 1, bar - 1)
        if not seen[other] then
          seen[other] = true
          found[#found + 1] = table.concat({other, members[j + 1], kind, node}, '\31')
        end
      end
    end
    local function window(key)
      local r = redis.call('ZREVRANGEBYSCORE', key, tc, '(' .. (tc - BACK), 'WITHSCORES',
                           'LIMIT', 0, HUB + 1)
      if #r / 2 > HUB then return {} end
      return r
    end
    take(window(P .. 'id:' .. parts[1]), 'id', parts[1])
    for k = 2, #parts do
      local kind, h = string.match(parts[k], '^([a-z]+):(.+)$')
      take(window(P .. parts[k]), kind, h)
    end
  end
  out[#out + 1] = table.concat(found, '\30')
end
return out
